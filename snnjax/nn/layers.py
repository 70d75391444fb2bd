"""Flax Linen layers of LIF neurons: thin wrappers around :func:`snnjax.lif_layer`.

Each module holds one parameter (``"kernel"``) and calls the functional core; it adds no
state, no hidden scaling and no extra computation. Spike trains follow the library
convention: ``[..., n, K]`` float spike times in seconds, sorted ascending along the last
axis, ``+inf`` = empty slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax._checks import is_int
from snnjax.lif import EventBackend, LayerOutput, LIFParams, lif_layer
from snnjax.nn.conv_events import _pair, conv_lif_layer, conv_patches

__all__ = [
    "Initializer",
    "LIFConv",
    "LIFDense",
    "conv_patches",
    "make_init",
    "normal_init",
    "uniform_init",
]

Initializer = Callable[..., jax.Array]
"""``init(key, shape, dtype) -> array``, the Flax initialiser signature."""


def uniform_init(low: float = -1.0, high: float = 1.0) -> Initializer:
    """Initialiser drawing weights i.i.d. from ``U(low, high)``.

    Bacho & Chu (2023) use ``U(-1, 1)`` for the multi-spike MNIST network and ``U(0, 1)`` for
    the TTFS one (SPEC §6).

    Args:
      low: lower bound.
      high: upper bound (``> low``).

    Returns:
      ``init(key, shape, dtype=float32) -> [*shape]`` array.

    Example:
      >>> import jax
      >>> w = uniform_init(0.0, 1.0)(jax.random.key(0), (3, 2))
      >>> bool((w >= 0).all() and (w < 1).all())
      True
    """
    if not float(high) > float(low):
        raise ValueError(f"uniform_init needs high > low, got low={low!r}, high={high!r}")

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, minval=low, maxval=high)

    return init


def normal_init(mean: float = 0.0, std: float = 1.0) -> Initializer:
    """Initialiser drawing weights i.i.d. from ``N(mean, std**2)``.

    Fast & Deep (Göltz et al. 2021) and the convergence experiment of Bacho & Chu (2023)
    initialise with normals of non-zero mean.

    Args:
      mean: mean of the distribution.
      std: standard deviation (``>= 0``).

    Returns:
      ``init(key, shape, dtype=float32) -> [*shape]`` array.
    """
    if not float(std) >= 0:
        raise ValueError(f"normal_init needs std >= 0, got {std!r}")

    def init(key, shape, dtype=jnp.float32):
        return mean + std * jax.random.normal(key, shape, dtype)

    return init


def make_init(spec: Any) -> Initializer:
    """Initialiser from a config-friendly description.

    Args:
      spec: ``("uniform", low, high)``, ``("normal", mean, std)`` (tuple or list, e.g.
        read from JSON), or already an initialiser callable (returned unchanged).

    Returns:
      The initialiser.

    Raises:
      ValueError: for an unknown name or a wrong number of arguments.
    """
    if callable(spec):
        return spec
    if isinstance(spec, (tuple, list)) and len(spec) == 3 and isinstance(spec[0], str):
        name, p, q = spec
        if name == "uniform":
            return uniform_init(float(p), float(q))
        if name == "normal":
            return normal_init(float(p), float(q))
    raise ValueError(
        f"init must be ('uniform', low, high), ('normal', mean, std) or a callable, got {spec!r}"
    )


def _lif_params(module) -> LIFParams:
    return LIFParams(tau_syn=module.tau_syn, theta=module.theta, delta_theta=module.delta_theta)


def _check_features(features, layer: str) -> None:
    """``features`` is a non-negative int (the number of output neurons or channels)."""
    if not is_int(features) or features < 0:
        raise ValueError(f"{layer}.features must be a non-negative int, got {features!r}")


class LIFDense(nn.Module):
    """Fully connected layer of LIF neurons with exact spike times (SPEC §1-4).

    ``LIFDense(...).apply(variables, x)`` equals
    ``snnjax.lif_layer(x, variables["params"]["kernel"], LIFParams(tau_syn, theta,
    delta_theta), max_spikes=max_spikes, t_max=t_max, max_input_events=max_input_events,
    backend=backend)``.

    Attributes:
      features: number of output neurons ``n_out``.
      max_spikes: spike buffer ``K`` per output neuron (static; 1 = TTFS layer).
      tau_syn: synaptic time constant (s); ``tau_mem = 2 tau_syn``. Scalar or ``[features]``.
      theta: firing threshold. Scalar or ``[features]``.
      delta_theta: subtractive reset; ``None`` = ``theta``.
      t_max: end of the simulation (s).
      max_input_events: optional static bound on input events per sample (see
        :func:`snnjax.lif_layer`); overflow is reported, never silent.
      kernel_init: initialiser of the ``[n_in, features]`` kernel (default ``U(-1, 1)``).
      param_dtype: dtype of the kernel (``jnp.float64`` for float64 work under x64).
      backend: event backend of :func:`snnjax.lif_layer` (``"ffi"``, ``"loop"``,
        ``"auto"``; ``None`` = the ``SNNJAX_KERNEL`` default, else automatic).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> layer = LIFDense(features=3, max_spikes=2, theta=0.5)
      >>> x = jnp.full((4, 5, 1), 0.01)  # [B, n_in, K_in]
      >>> variables = layer.init(jax.random.key(0), x)
      >>> variables["params"]["kernel"].shape
      (5, 3)
      >>> layer.apply(variables, x).times.shape  # [B, features, max_spikes]
      (4, 3, 2)
    """

    features: int
    max_spikes: int
    tau_syn: Any = 0.13
    theta: Any = 1.0
    delta_theta: Any = None
    t_max: Any = 1.0
    max_input_events: int | None = None
    kernel_init: Initializer = uniform_init(-1.0, 1.0)
    param_dtype: Any = jnp.float32
    backend: str | EventBackend | None = None

    @nn.compact
    def __call__(self, input_times: jax.Array) -> LayerOutput:
        """Spike times of the layer.

        Args:
          input_times: ``[B, n_in, K_in]`` float (any leading dims allowed), sorted per
            neuron, ``inf`` = empty.

        Returns:
          :class:`snnjax.LayerOutput` with ``times [B, features, max_spikes]``,
          ``n_dropped [B, features]`` and ``n_input_overflow [B]``.
        """
        input_times = jnp.asarray(input_times)
        _check_features(self.features, "LIFDense")
        if input_times.ndim < 2:
            raise ValueError(
                f"LIFDense expects input_times [B, n_in, K_in], got shape {input_times.shape}"
            )
        kernel = self.param(
            "kernel", self.kernel_init, (input_times.shape[-2], self.features), self.param_dtype
        )
        return lif_layer(
            input_times,
            kernel,
            _lif_params(self),
            max_spikes=self.max_spikes,
            t_max=self.t_max,
            max_input_events=self.max_input_events,
            backend=self.backend,
        )


class LIFConv(nn.Module):
    """2-D convolution of LIF neurons ("valid", stride 1) with exact spike times.

    Every output position ``(p, q)`` is a dense LIF layer over its receptive field with the
    shared weights ``kernel.reshape(kh*kw*C, features)``
    (:func:`snnjax.nn.conv_events.conv_lif_layer`): the same spike times and gradients as
    :func:`snnjax.lif_layer` on the gathered patches (:func:`conv_patches`) with
    ``(B, H', W')`` as batch dimensions. On CPU (``"ffi"`` backend) each image's events are
    sorted once and every patch reads its events from them (no gather, no per-patch sort);
    elsewhere the patches are gathered and sorted. Memory grows as ``B x H' x W' x E``
    event slots (``E = kh*kw*C*K_in`` or ``max_input_events``) plus the outputs, never as
    ``B x n_in x n_out``; the weight gradient is accumulated in one buffer.

    Attributes:
      features: number of output channels.
      kernel_size: ``(kh, kw)`` (an int means square).
      max_spikes: spike buffer ``K`` per output neuron (static).
      tau_syn, theta, delta_theta, t_max: as in :class:`LIFDense` (``theta`` may be
        ``[features]``).
      kernel_init: initialiser of the ``[kh, kw, C, features]`` kernel (default ``U(-1, 1)``).
      max_input_events: optional static bound on input events per receptive field.
      param_dtype: dtype of the kernel.
      backend: event backend, as in :class:`LIFDense`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> conv = LIFConv(features=4, kernel_size=(3, 3), max_spikes=1)
      >>> x = jnp.full((2, 6, 6, 1, 1), 0.01)  # [B, H, W, C, K_in]
      >>> variables = conv.init(jax.random.key(0), x)
      >>> variables["params"]["kernel"].shape
      (3, 3, 1, 4)
      >>> conv.apply(variables, x).times.shape  # [B, H', W', features, K]
      (2, 4, 4, 4, 1)
    """

    features: int
    kernel_size: Any = (5, 5)
    max_spikes: int = 1
    tau_syn: Any = 0.13
    theta: Any = 1.0
    delta_theta: Any = None
    t_max: Any = 1.0
    kernel_init: Initializer = uniform_init(-1.0, 1.0)
    max_input_events: int | None = None
    param_dtype: Any = jnp.float32
    backend: str | EventBackend | None = None

    @nn.compact
    def __call__(self, input_times: jax.Array) -> LayerOutput:
        """Spike times of the feature maps.

        Args:
          input_times: ``[B, H, W, C, K_in]`` float (any leading dims allowed), sorted per
            neuron, ``inf`` = empty.

        Returns:
          :class:`snnjax.LayerOutput` with ``times [B, H', W', features, max_spikes]``
          (``H' = H - kh + 1``, ``W' = W - kw + 1``), ``n_dropped [B, H', W', features]``
          and ``n_input_overflow [B]`` (summed over the output positions: the number of
          (position, event) pairs ignored because ``max_input_events`` was too small).
        """
        input_times = jnp.asarray(input_times)
        _check_features(self.features, "LIFConv")
        if input_times.ndim < 4:
            raise ValueError(
                f"LIFConv expects input_times [B, H, W, C, K_in], got shape {input_times.shape}"
            )
        kh, kw = _pair(self.kernel_size, "kernel_size")
        channels = input_times.shape[-2]
        kernel = self.param(
            "kernel", self.kernel_init, (kh, kw, channels, self.features), self.param_dtype
        )
        return conv_lif_layer(
            input_times,
            kernel,
            _lif_params(self),
            max_spikes=self.max_spikes,
            t_max=self.t_max,
            max_input_events=self.max_input_events,
            backend=self.backend,
        )
