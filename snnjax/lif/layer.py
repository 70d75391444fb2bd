"""The public functional LIF layer: validation, the backend choice, sorting, the exact kernel."""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from snnjax._checks import is_int
from snnjax.lif.backends import EventBackend, resolve_backend
from snnjax.lif.events import event_capacity
from snnjax.lif.grad import event_spike_times
from snnjax.lif.params import LIFParams
from snnjax.spikes import check_spike_times, checkify_spike_times

__all__ = ["LayerOutput", "check_spike_times", "checkify_spike_times", "lif_layer"]


class LayerOutput(NamedTuple):
    """Output of :func:`lif_layer` (leading batch dimensions ``...`` as in the input).

    Attributes:
      times: ``[..., n_out, max_spikes]`` spike times (s), sorted per neuron, ``inf`` = empty.
      n_dropped: ``[..., n_out]`` int32, spikes fired but not in ``times``: those beyond
        the buffer (nonzero means ``max_spikes`` is too small for this input) plus
        ``n_unresolved``. Saturates near ``2**31 - 1``.
      n_input_overflow: ``[...]`` int32, input events before ``t_max`` that did not fit in
        ``max_input_events`` (and were ignored). Nonzero means the result is wrong:
        increase ``max_input_events``.
      n_unresolved: ``[..., n_out]`` int32, threshold crossings the dtype could not
        resolve (each counted once, also in ``n_dropped``; the neuron's further spikes in
        that interval are missing). Nonzero means the result is wrong: use float64, or
        smaller ``weights / theta`` (see :func:`lif_layer`, "Precision").
    """

    times: jax.Array
    n_dropped: jax.Array
    n_input_overflow: jax.Array
    n_unresolved: jax.Array


def _concrete(x: Any) -> bool:
    return not isinstance(x, jax.core.Tracer)


def lif_layer(
    input_times: ArrayLike,
    weights: ArrayLike,
    params: LIFParams,
    *,
    max_spikes: int,
    t_max: ArrayLike,
    max_input_events: int | None = None,
    backend: str | EventBackend | None = None,
) -> LayerOutput:
    """Exact spike times of a dense layer of LIF neurons (Bacho & Chu 2023; SPEC §1-4).

    Every input spike is an event; spike times are found in closed form between events
    (no time grid), with subtractive reset and a buffer of ``max_spikes`` slots per neuron
    (``max_spikes=1`` is a Fast & Deep / time-to-first-spike layer). Gradients with respect
    to ``input_times`` and ``weights`` are exact (``jax.custom_vjp``), so layers chain.

    Args:
      input_times: ``[..., n_in, K_in]`` float spike trains (s), sorted per neuron,
        ``+inf`` = empty slot. Any number of leading batch dimensions.
      weights: ``[n_in, n_out]`` float.
      params: :class:`snnjax.LIFParams` (traced: a sweep over them does not recompile).
      max_spikes: static buffer size per output neuron.
      t_max: end of the simulation (s); spikes after it are not emitted.
      max_input_events: optional static bound on the input events per sample (default: all
        ``n_in * K_in`` slots). Smaller bounds make the layer faster when inputs are sparse;
        events that do not fit are counted in ``n_input_overflow``, never dropped silently.
      backend: the event backend (:mod:`snnjax.lif.backends`): ``"ffi"`` (compiled C++,
        CPU), ``"loop"`` (pure JAX event loop, any platform), ``"parallel"`` (pure JAX,
        parallel in time, any platform), ``"auto"``, an
        :class:`~snnjax.lif.backends.EventBackend`, or ``None`` (default): the
        ``SNNJAX_KERNEL`` environment variable, else ``"auto"``, which runs ``"ffi"`` on
        CPU (where it builds and ``tau_syn`` is a scalar), ``"parallel"`` on GPU and TPU
        and ``"loop"`` elsewhere. All backends compute the same spike times and gradients.

    Returns:
      :class:`LayerOutput`. Zero-size dimensions (batch, ``n_in``, ``K_in`` or ``n_out``
      of 0) give correctly shaped outputs (no input: no spikes) and zero gradients.

    Precision: the spike after an input event or a previous spike is found as a root
    ``z = exp((t - t_ref) / tau_mem)`` of a quadratic whose coefficients grow with the
    drive; it is resolved only if it lies more than about one rounding unit beyond
    ``z = 1`` (the reference event), i.e. more than ``~tau_mem * eps`` after it (float32:
    ``eps = 2**-24``, 15 ns for ``tau_mem = 0.26 s``; float64: ``2**-53``). A neuron
    driven from rest by an input of weight ``w`` crosses about ``theta / w`` seconds later,
    and the rounding of ``b**2 - 4ac`` loses the crossing once ``w * tau_mem / theta``
    reaches ``~1 / eps`` (float32: ``w / theta`` about ``5e7 .. 1e8`` for
    ``tau_mem = 0.26 s``; float64: ``~3e16``); spike times are accurate to a relative
    ``eps * w * tau_mem / theta`` below that. Such a lost crossing is counted in
    ``n_unresolved`` (and ``n_dropped``), never silently answered "no spike"; every backend
    detects it the same way.

    Raises:
      ValueError / TypeError: for mismatched shapes, non-float inputs, a dtype other than
        float32/float64 (float16 and bfloat16 cannot represent the closed form: cast to
        float32), (when the input is concrete, i.e. not under ``jit``) NaN, negative or
        unsorted spike times, and an unknown backend or one that does not support this
        layer.
      RuntimeError: a named backend that cannot run here (``"ffi"`` without a C++ compiler).

    Example:
      >>> import jax.numpy as jnp, snnjax
      >>> t_in = jnp.array([[[0.0]], [[0.01]]])  # 2 samples, 1 input, 1 slot
      >>> out = snnjax.lif_layer(
      ...     t_in, jnp.array([[3.0]]), snnjax.LIFParams(0.13, 0.2), max_spikes=4, t_max=1.0
      ... )
      >>> out.times.shape
      (2, 1, 4)
    """
    input_times = jnp.asarray(input_times)
    weights = jnp.asarray(weights)
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be snnjax.LIFParams, got {type(params).__name__}")
    if not jnp.issubdtype(input_times.dtype, jnp.floating):
        raise TypeError(f"input_times must be a float array, got {input_times.dtype}")
    if not jnp.issubdtype(weights.dtype, jnp.floating):
        raise TypeError(f"weights must be a float array, got {weights.dtype}")
    if input_times.ndim < 2:
        raise ValueError(f"input_times must be [..., n_in, K_in], got shape {input_times.shape}")
    if weights.ndim != 2:
        raise ValueError(f"weights must be [n_in, n_out], got shape {weights.shape}")
    if input_times.shape[-2] != weights.shape[0]:
        raise ValueError(
            f"input_times has {input_times.shape[-2]} input neurons "
            f"(shape {input_times.shape}) but weights has {weights.shape[0]} rows"
        )
    params.check_n_out(weights.shape[1])
    if not is_int(max_spikes) or max_spikes < 1:
        raise ValueError(f"max_spikes must be a positive int (static), got {max_spikes!r}")
    if max_input_events is not None and (not is_int(max_input_events) or max_input_events < 1):
        raise ValueError(
            f"max_input_events must be a positive int or None, got {max_input_events!r}"
        )
    if _concrete(t_max) and not float(np.asarray(t_max)) > 0:
        raise ValueError(f"t_max must be > 0, got {t_max!r}")
    check_spike_times(input_times, "input_times")
    if _concrete(weights) and not np.isfinite(np.asarray(weights)).all():
        raise ValueError("weights contain NaN or inf")

    dtype = jnp.result_type(input_times.dtype, weights.dtype)
    _check_dtype(dtype, input_times.dtype, weights.dtype)
    _check_input_slots(input_times.shape)
    chosen = resolve_backend(backend, dtype, params)
    return _lif_layer(
        input_times.astype(dtype),
        weights.astype(dtype),
        params,
        t_max,
        int(max_spikes),
        max_input_events,
        chosen,
    )


def _check_dtype(dtype: np.dtype, *given: np.dtype) -> None:
    """The layer computes in float32 or float64 only (every backend)."""
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(
            f"lif_layer computes in float32 or float64, got {np.dtype(dtype).name} (from "
            f"input_times {np.dtype(given[0]).name} and weights {np.dtype(given[1]).name}): "
            "its precision cannot represent the closed-form spike times; cast both with "
            ".astype(jnp.float32)"
        )


def _check_input_slots(shape: tuple[int, ...]) -> None:
    """Events and slots are indexed with int32 (every backend)."""
    n_slots = shape[-2] * shape[-1]
    if n_slots > np.iinfo(np.int32).max:
        raise ValueError(
            f"input_times has n_in * K_in = {shape[-2]} * {shape[-1]} = {n_slots} slots per "
            "sample, more than the 2**31 - 1 events a layer can index; split the input"
        )


@partial(jax.jit, static_argnums=(4, 5, 6))
def _lif_layer(
    input_times: jax.Array,
    weights: jax.Array,
    params: LIFParams,
    t_max: ArrayLike,
    max_spikes: int,
    max_input_events: int | None,
    backend: EventBackend,
) -> LayerOutput:
    """Jitted body of :func:`lif_layer` (so that eager calls are compiled once per shape)."""
    dtype = weights.dtype
    batch_shape = input_times.shape[:-2]
    # (an explicit size, not -1: reshape cannot infer it when a dimension is 0)
    flat = input_times.reshape((math.prod(batch_shape),) + input_times.shape[-2:])
    t_max = jnp.asarray(t_max, dtype)
    # (unflattening a LIFParams never re-validates its fields)
    params = jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), params)
    n_events = event_capacity(flat.shape[1], flat.shape[2], max_input_events)
    events, n_overflow = backend.sort_events(flat, t_max, n_events)
    times, n_spikes, n_unresolved = event_spike_times(
        events, weights, params, t_max, max_spikes, backend
    )
    # (n_spikes saturates at 2**31 - 1 and n_unresolved <= E < 2**31: no int32 overflow)
    n_beyond = jnp.maximum(n_spikes - max_spikes, 0)
    n_dropped = n_beyond + jnp.minimum(n_unresolved, jnp.iinfo(jnp.int32).max - n_beyond)
    n_out = weights.shape[1]
    return LayerOutput(
        times=times.reshape(batch_shape + (n_out, max_spikes)),
        n_dropped=n_dropped.reshape(batch_shape + (n_out,)),
        n_input_overflow=n_overflow.reshape(batch_shape),
        n_unresolved=n_unresolved.reshape(batch_shape + (n_out,)),
    )
