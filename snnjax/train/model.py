"""Networks from configs: :func:`build_model` and :func:`init_params`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from snnjax.configs import ExperimentConfig
from snnjax.lif import EventBackend
from snnjax.nn import LIFConv, LIFDense, SpikingNetwork, make_conv_network, make_dense_network

__all__ = ["build_model", "init_params", "spiking_layer_indices", "spiking_layer_names"]


def _inits(config: ExperimentConfig):
    inits = [tuple(spec) for spec in config.init]
    return inits[0] if len(inits) == 1 else inits


def build_model(config: ExperimentConfig, max_input_events: int | None = None,
                backend: str | EventBackend | None = None) -> SpikingNetwork:
    """The network of ``config`` (unbound Linen module).

    Args:
      config: the experiment config.
      max_input_events: static bound on the input events per sample of the *first* dense
        layer (``None`` = no bound). Conv networks ignore it (a receptive field holds at most
        ``kernel_size**2`` events).
      backend: event backend of every spiking layer (see :func:`snnjax.lif_layer`;
        ``None`` = the ``SNNJAX_KERNEL`` default, else automatic).

    Returns:
      A :class:`snnjax.nn.SpikingNetwork`; ``model.apply({"params": p}, times)`` returns a
      :class:`snnjax.nn.NetworkOutput`.
    """
    if config.architecture == "conv":
        return make_conv_network(
            input_shape=(28, 28, 1), conv_features=config.conv_features,
            kernel_size=config.kernel_size, pool_window=2, dense_sizes=config.sizes,
            thetas=config.thetas, max_spikes=config.max_spikes, tau_syn=config.tau_syn,
            t_max=config.t_max, init=_inits(config), backend=backend)
    n = config.n_spiking_layers
    bounds = [max_input_events] + [None] * (n - 1)
    return make_dense_network(
        sizes=config.sizes, thetas=config.thetas, max_spikes=config.max_spikes,
        tau_syn=config.tau_syn, t_max=config.t_max, init=_inits(config),
        max_input_events=bounds, backend=backend)


def init_params(model: SpikingNetwork, input_shape: tuple[int, ...], seed: int):
    """Initial parameters (the ``"params"`` collection) from ``seed``.

    Args:
      model: the network.
      input_shape: per-sample input shape without the spike axis, e.g. ``(5,)``.
      seed: integer seed (``jax.random.key(seed)``).
    """
    dummy = jnp.full((1,) + tuple(input_shape) + (1,), jnp.inf, jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(seed), dummy)
    return variables["params"]


def spiking_layer_indices(model: SpikingNetwork) -> list[int]:
    """Indices into ``model.layers`` (and ``NetworkOutput.layer_times``) of the spiking
    layers (:class:`snnjax.nn.LIFDense`, :class:`snnjax.nn.LIFConv`)."""
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, (LIFDense, LIFConv))]


def spiking_layer_names(model: SpikingNetwork) -> list[str]:
    """Readable names of the spiking layers: ``conv1, conv2, ..., hidden1, ..., output``."""
    names, n_conv, n_hidden = [], 0, 0
    idx = spiking_layer_indices(model)
    for j, i in enumerate(idx):
        if isinstance(model.layers[i], LIFConv):
            n_conv += 1
            names.append(f"conv{n_conv}")
        elif j == len(idx) - 1:
            names.append("output")
        else:
            n_hidden += 1
            names.append(f"hidden{n_hidden}")
    return names
