"""A feed-forward spiking network (Linen) and builders for the paper's architectures.

:class:`SpikingNetwork` chains layers and returns every layer's spike trains together with
the dropped-spike and input-overflow counts of every spiking layer, so that a training
loop can log them (a full buffer is never silent). Builders turn plain, config-friendly
descriptions (lists of dicts, tuples of sizes) into networks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.lif import EventBackend, LayerOutput
from snnjax.nn.layers import LIFConv, LIFDense, make_init
from snnjax.nn.pooling import SpikeUnionPool, pool_dropped

__all__ = [
    "Flatten",
    "NetworkOutput",
    "SpikingNetwork",
    "make_conv_network",
    "make_dense_network",
    "make_network",
]


class NetworkOutput(NamedTuple):
    """Output of :class:`SpikingNetwork` (``B`` samples).

    Attributes:
      times: the final layer's trains, e.g. ``[B, n_out, K]`` float, ``inf`` = empty.
      layer_times: tuple with every layer's output trains, in order (pooling and
        :class:`Flatten` layers included; the last entry is ``times``).
      n_dropped: tuple, one ``[B]`` int32 per spiking layer (:class:`LIFDense`,
        :class:`LIFConv`): spikes fired beyond the buffers, summed over the layer's neurons.
      n_input_overflow: tuple, one ``[B]`` int32 per spiking layer: input events ignored
        because of ``max_input_events`` (nonzero means the result is wrong).
      n_pool_dropped: tuple, one ``[B]`` int32 per :class:`SpikeUnionPool`: spikes cut by
        its ``max_spikes`` (always zero when ``max_spikes`` is ``None``).
    """

    times: jax.Array
    layer_times: tuple[jax.Array, ...]
    n_dropped: tuple[jax.Array, ...]
    n_input_overflow: tuple[jax.Array, ...]
    n_pool_dropped: tuple[jax.Array, ...] = ()


class Flatten(nn.Module):
    """Merge feature maps into one neuron axis: ``[B, H, W, C, K] -> [B, H*W*C, K]``.

    Every axis between the first (batch) and the last (spike slots) is merged (row-major
    ``(h, w, c)`` order), so ``[B, n, K]`` passes unchanged.
    """

    def __call__(self, times: jax.Array) -> jax.Array:
        """Flattened trains ``[B, prod(middle dims), K]``."""
        times = jnp.asarray(times)
        if times.ndim < 3:
            raise ValueError(f"Flatten expects [B, ..., K], got shape {times.shape}")
        # (explicit sizes, not -1: reshape cannot infer one when the batch is empty)
        return times.reshape(times.shape[0], math.prod(times.shape[1:-1]), times.shape[-1])


def _per_sample(x: jax.Array, batch: int) -> jax.Array:
    """Sum every axis but the first: ``[B, ...] -> [B]``."""
    return jnp.sum(x.reshape(batch, x.size // batch if batch else 0), axis=1, dtype=jnp.int32)


class SpikingNetwork(nn.Module):
    """Feed-forward chain of spiking layers.

    Layers returning a :class:`snnjax.LayerOutput` (:class:`LIFDense`, :class:`LIFConv`)
    are spiking layers: their ``times`` feed the next layer and their counts are reported.
    Layers returning an array (:class:`SpikeUnionPool`, :class:`Flatten`) transform trains.
    Parameters live under ``params["layers_<i>"]["kernel"]``.

    Attributes:
      layers: the layers, applied in order.
      input_shape: optional expected per-sample input shape without the spike axis, e.g.
        ``(784,)`` or ``(28, 28, 1)``; checked at call time when given.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> net = SpikingNetwork(
      ...     [LIFDense(4, max_spikes=2, theta=0.5), LIFDense(2, max_spikes=3, theta=0.5)]
      ... )
      >>> x = jnp.full((3, 5, 1), 0.01)  # [B, n_in, K_in]
      >>> params = net.init(jax.random.key(0), x)
      >>> out = net.apply(params, x)
      >>> out.times.shape, [t.shape for t in out.layer_times], out.n_dropped[0].shape
      ((3, 2, 3), [(3, 4, 2), (3, 2, 3)], (3,))
    """

    layers: Sequence[nn.Module]
    input_shape: tuple[int, ...] | None = None

    def __call__(self, input_times: jax.Array) -> NetworkOutput:
        """Run the network.

        Args:
          input_times: ``[B, *input_shape, K_in]`` float spike trains, sorted, ``inf`` =
            empty (``[B, n_in, K_in]`` for a dense network, ``[B, H, W, C, K_in]`` for a
            convolutional one).

        Returns:
          :class:`NetworkOutput`.
        """
        x = jnp.asarray(input_times)
        if x.ndim < 3:
            raise ValueError(
                f"SpikingNetwork expects input_times [B, ..., K_in], got shape {x.shape}"
            )
        if self.input_shape is not None and tuple(x.shape[1:-1]) != tuple(self.input_shape):
            raise ValueError(
                f"input_times has per-sample shape {tuple(x.shape[1:-1])} (without "
                f"the spike axis) but the network expects {tuple(self.input_shape)}"
            )
        batch = x.shape[0]
        layer_times, dropped, overflow, pool_lost = [], [], [], []
        for layer in self.layers:
            out = layer(x)
            if isinstance(out, LayerOutput):
                dropped.append(_per_sample(out.n_dropped, batch))
                overflow.append(_per_sample(out.n_input_overflow, batch))
                out = out.times
            elif isinstance(layer, SpikeUnionPool):
                pool_lost.append(pool_dropped(x, out))
            x = out
            layer_times.append(x)
        return NetworkOutput(
            times=x,
            layer_times=tuple(layer_times),
            n_dropped=tuple(dropped),
            n_input_overflow=tuple(overflow),
            n_pool_dropped=tuple(pool_lost),
        )


_LAYER_TYPES = {"dense": LIFDense, "conv": LIFConv, "pool": SpikeUnionPool, "flatten": Flatten}
_SPIKING = ("dense", "conv")


def make_network(
    layers: Sequence[Mapping[str, Any]], input_shape: Sequence[int] | None = None, **defaults: Any
) -> SpikingNetwork:
    """Build a :class:`SpikingNetwork` from a config-friendly list of dicts.

    Args:
      layers: one dict per layer with a ``"type"`` in ``"dense"``, ``"conv"``, ``"pool"``,
        ``"flatten"``; the other keys are the module's attributes (:class:`LIFDense`,
        :class:`LIFConv`, :class:`SpikeUnionPool`), with ``"init"`` accepted for
        ``kernel_init`` in the form of :func:`make_init` (e.g. ``["uniform", -1, 1]``).
      input_shape: optional per-sample input shape (without the spike axis), checked at
        call time.
      **defaults: attributes applied to every spiking layer unless its dict sets them
        (e.g. ``tau_syn=0.13, t_max=0.2, param_dtype=jnp.float64, backend="loop"``).

    Returns:
      The network (unbound; call ``.init`` / ``.apply``).

    Example:
      >>> net = make_network(
      ...     [
      ...         {"type": "dense", "features": 8, "max_spikes": 5, "theta": 0.2},
      ...         {
      ...             "type": "dense",
      ...             "features": 2,
      ...             "max_spikes": 5,
      ...             "theta": 1.3,
      ...             "init": ["normal", 0.5, 0.1],
      ...         },
      ...     ],
      ...     t_max=0.2,
      ... )
      >>> [type(m).__name__ for m in net.layers]
      ['LIFDense', 'LIFDense']
    """
    modules = []
    for i, spec in enumerate(layers):
        spec = dict(spec)
        kind = spec.pop("type", None)
        if kind not in _LAYER_TYPES:
            raise ValueError(
                f"layer {i}: 'type' must be one of {sorted(_LAYER_TYPES)}, got {kind!r}"
            )
        if kind in _SPIKING:
            spec = {**defaults, **spec}
            if "init" in spec:
                spec["kernel_init"] = make_init(spec.pop("init"))
        try:
            modules.append(_LAYER_TYPES[kind](**spec))
        except TypeError as err:
            raise ValueError(f"layer {i} ({kind}): {err}") from err
    return SpikingNetwork(
        layers=tuple(modules), input_shape=None if input_shape is None else tuple(input_shape)
    )


def _per_layer(value: Any, n: int, name: str, is_single=None) -> list:
    """Broadcast a scalar setting to ``n`` layers, or check a per-layer sequence."""
    single = is_single(value) if is_single is not None else not isinstance(value, (list, tuple))
    if single:
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{name} needs {n} entries (one per spiking layer), got {len(value)}")
    return list(value)


def _is_single_init(value) -> bool:
    return callable(value) or (
        isinstance(value, (list, tuple)) and len(value) > 0 and isinstance(value[0], str)
    )


def _layer_settings(n, thetas, max_spikes, tau_syn, init, delta_thetas, max_input_events):
    """Per-layer keyword arguments of the ``n`` spiking layers (each setting: one value for
    every layer, or one per layer)."""
    thetas = _per_layer(thetas, n, "thetas")
    max_spikes = _per_layer(max_spikes, n, "max_spikes")
    taus = _per_layer(tau_syn, n, "tau_syn")
    inits = _per_layer(init, n, "init", _is_single_init)
    resets = _per_layer(delta_thetas, n, "delta_thetas")
    bounds = _per_layer(max_input_events, n, "max_input_events")
    return [
        dict(
            max_spikes=int(max_spikes[i]),
            theta=thetas[i],
            delta_theta=resets[i],
            tau_syn=taus[i],
            init=inits[i],
            max_input_events=bounds[i],
        )
        for i in range(n)
    ]


def make_dense_network(
    sizes: Sequence[int] = (784, 800, 10),
    thetas: Sequence[float] = (0.2, 1.3),
    max_spikes: Sequence[int] = (30, 30),
    tau_syn: float = 0.13,
    t_max: float = 0.2,
    init: Any = ("uniform", -1.0, 1.0),
    delta_thetas: Sequence[float] | None = None,
    max_input_events: int | Sequence[int | None] | None = None,
    param_dtype: Any = jnp.float32,
    backend: str | EventBackend | None = None,
) -> SpikingNetwork:
    """Fully connected spiking network ``sizes[0] -> ... -> sizes[-1]``.

    The defaults are the multi-spike MNIST network of Bacho & Chu (2023) (SPEC §6):
    784-800-10, ``theta`` 0.2 / 1.3, buffers 30 / 30, ``tau_syn`` 0.13 s, ``T_max`` 0.2 s,
    ``w ~ U(-1, 1)``. The TTFS network is ``thetas=(0.7, 2.0), max_spikes=(1, 1),
    t_max=1.0, init=("uniform", 0, 1)``.

    Args:
      sizes: ``[n_in, n_1, ..., n_out]``; ``n_in`` is checked at call time.
      thetas: threshold per spiking layer (``len(sizes) - 1`` entries).
      max_spikes: buffer per spiking layer.
      tau_syn: synaptic time constant (s), all layers (or a sequence, one per layer).
      t_max: simulation end (s).
      init: one initialiser spec for all layers (see :func:`make_init`) or one per layer.
      delta_thetas: reset per layer; ``None`` = ``thetas``.
      max_input_events: int/None for all layers, or one per layer.
      param_dtype: kernel dtype.
      backend: event backend of every spiking layer (see :func:`snnjax.lif_layer`;
        ``None`` = the ``SNNJAX_KERNEL`` default, else automatic).

    Returns:
      A :class:`SpikingNetwork` of :class:`LIFDense` layers.
    """
    n = len(sizes) - 1
    if n < 1:
        raise ValueError(f"sizes needs at least two entries, got {sizes!r}")
    common = _layer_settings(n, thetas, max_spikes, tau_syn, init, delta_thetas, max_input_events)
    spec = [dict(type="dense", features=int(sizes[i + 1]), **common[i]) for i in range(n)]
    return make_network(
        spec, input_shape=(int(sizes[0]),), t_max=t_max, param_dtype=param_dtype, backend=backend
    )


def make_conv_network(
    input_shape: Sequence[int] = (28, 28, 1),
    conv_features: Sequence[int] = (15, 40),
    kernel_size: int | Sequence[int] = 5,
    pool_window: int = 2,
    dense_sizes: Sequence[int] = (300, 10),
    thetas: Sequence[float] = (0.04, 0.8, 0.6, 0.3),
    max_spikes: Sequence[int] = (1, 3, 10, 30),
    tau_syn: float = 0.13,
    t_max: float = 0.2,
    init: Any = ("uniform", -1.0, 1.0),
    delta_thetas: Sequence[float] | None = None,
    pool_max_spikes: int | None = None,
    max_input_events: int | Sequence[int | None] | None = None,
    param_dtype: Any = jnp.float32,
    backend: str | EventBackend | None = None,
) -> SpikingNetwork:
    """Convolutional spiking network: ``[conv -> pool] * len(conv_features) -> flatten ->
    dense * len(dense_sizes)``.

    The defaults are the conv MNIST network of Bacho & Chu (2023) (SPEC §6):
    conv5x5x15 -> pool2 -> conv5x5x40 -> pool2 -> 300 -> 10, ``theta`` 0.04 / 0.8 / 0.6 / 0.3,
    buffers 1 / 3 / 10 / 30, ``tau_syn`` 0.13 s, ``T_max`` 0.2 s, ``w ~ U(-1, 1)`` (the
    authors' script), pooling by spike union keeping every spike.

    Args:
      input_shape: ``(H, W, C)``; every pooled map must be divisible by ``pool_window``.
      conv_features: output channels of each conv layer.
      kernel_size: conv kernel size (int or pair), all conv layers.
      pool_window: spike-union pooling window after every conv layer.
      dense_sizes: sizes of the dense layers after flattening.
      thetas, max_spikes: one per spiking layer (conv layers first).
      tau_syn, t_max, init, delta_thetas, max_input_events, param_dtype, backend: as in
        :func:`make_dense_network` (per spiking layer where a sequence is given).
      pool_max_spikes: optional truncation of the pooled trains (``None`` keeps all).

    Returns:
      A :class:`SpikingNetwork`.
    """
    n_conv, n_dense = len(conv_features), len(dense_sizes)
    n = n_conv + n_dense
    settings = _layer_settings(n, thetas, max_spikes, tau_syn, init, delta_thetas, max_input_events)
    kernel = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    spec = []
    for i in range(n):
        common = settings[i]
        if i < n_conv:
            spec.append(
                dict(type="conv", features=int(conv_features[i]), kernel_size=kernel, **common)
            )
            spec.append(dict(type="pool", window=pool_window, max_spikes=pool_max_spikes))
        else:
            if i == n_conv:
                spec.append(dict(type="flatten"))
            spec.append(dict(type="dense", features=int(dense_sizes[i - n_conv]), **common))
    return make_network(
        spec, input_shape=tuple(input_shape), t_max=t_max, param_dtype=param_dtype, backend=backend
    )
