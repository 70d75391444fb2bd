"""Flax modules for exact event-based spiking networks.

Why Flax **Linen** (rather than NNX): a Linen model is a stateless description, and
``model.apply(params, x)`` is a pure function of a parameter pytree. That is exactly what
the rest of snnjax composes with: ``jax.jit`` and ``jax.grad`` over it directly,
``jax.vmap`` over weight-noise seeds (``vmap(lambda key: model.apply(noisy(params, key),
x))`` for the robustness sweeps), optax updates on the same pytree, and orbax checkpoints
of plain dicts — with no ``nnx.split``/``merge`` or mutable module objects in between.

The modules only hold parameters and call the functional core (:func:`snnjax.lif_layer`
and the pure pooling function); they add no hidden scaling, state or computation:

* :class:`LIFDense` — fully connected LIF layer, ``[B, n_in, K_in] -> LayerOutput``;
* :class:`LIFConv` — "valid", stride-1 convolution of LIF neurons,
  ``[B, H, W, C, K_in] -> LayerOutput`` (functional form :func:`conv_lif_layer`: on CPU
  the receptive fields' events come from one compiled sort per image, elsewhere from
  gathered patches; :mod:`snnjax.nn.conv_events`);
* :func:`spike_union_pool` / :class:`SpikeUnionPool` — 2x2 spike-union pooling;
* :class:`Flatten` — ``[B, H, W, C, K] -> [B, H*W*C, K]``;
* :class:`SpikingNetwork` — a chain returning every layer's trains and the dropped-spike
  and overflow counts (:class:`NetworkOutput`);
* :func:`is_spiking_layer`, :func:`spiking_layer_indices`, :func:`spiking_layer_names` —
  which layers spike and their names (``conv1 ... hidden1 ... output``);
* builders :func:`make_network`, :func:`make_dense_network`, :func:`make_conv_network`
  and initialisers :func:`uniform_init`, :func:`normal_init`, :func:`make_init`.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from snnjax.nn import make_dense_network
  >>> net = make_dense_network(sizes=(5, 4, 2), thetas=(0.2, 0.5), max_spikes=(3, 3))
  >>> x = jnp.full((2, 5, 1), 0.01)  # [B, n_in, K_in]
  >>> params = net.init(jax.random.key(0), x)
  >>> jax.jit(net.apply)(params, x).times.shape
  (2, 2, 3)
"""

from snnjax.nn.conv_events import conv_lif_layer
from snnjax.nn.layers import (
    Initializer,
    LIFConv,
    LIFDense,
    conv_patches,
    make_init,
    normal_init,
    uniform_init,
)
from snnjax.nn.naming import is_spiking_layer, spiking_layer_indices, spiking_layer_names
from snnjax.nn.network import (
    Flatten,
    NetworkOutput,
    SpikingNetwork,
    make_conv_network,
    make_dense_network,
    make_network,
)
from snnjax.nn.pooling import SpikeUnionPool, pool_dropped, spike_union_pool

__all__ = [
    "Flatten",
    "Initializer",
    "LIFConv",
    "LIFDense",
    "NetworkOutput",
    "SpikeUnionPool",
    "SpikingNetwork",
    "conv_lif_layer",
    "conv_patches",
    "is_spiking_layer",
    "make_conv_network",
    "make_dense_network",
    "make_init",
    "make_network",
    "normal_init",
    "pool_dropped",
    "spike_union_pool",
    "spiking_layer_indices",
    "spiking_layer_names",
    "uniform_init",
]
