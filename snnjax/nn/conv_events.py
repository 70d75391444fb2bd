"""The functional convolution of LIF neurons behind :class:`snnjax.nn.LIFConv`.

Every output position ``(p, q)`` of a "valid", stride-1 convolution is a dense LIF layer
over its receptive field, with shared weights ``kernel.reshape(kh * kw * C, features)``.
Its input is the time-sorted event list of the patch; two ways build these lists, with
identical results (same events, same order, same gradients up to the order of a sum):

* **compiled** (CPU, where the ``"ffi"`` backend runs): one sort per image in C++
  (``SnnjaxConvSortEvents``), then each patch's events are the image events inside its
  field, already in time order (no per-patch sort, no ``[B, H', W', kh*kw*C, K]`` gather);
  the gradient of the event times is summed back into the image slots by
  ``SnnjaxConvScatterEvents``. ``vmap`` folds into the kernel's batch, as for the other
  compiled calls.
* **gathered** (every other backend and platform): the patches are gathered by index
  (:func:`snnjax.nn.conv_patches`) and sorted by the backend's ``sort_events``.

The events then go through the backend's differentiable spike times
(:func:`snnjax.lif.grad.event_spike_times`) exactly as in :func:`snnjax.lif_layer`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from snnjax._checks import is_int
from snnjax.lif import EventBackend, LayerOutput, LIFParams
from snnjax.lif.backends import backend_name, resolve_backend
from snnjax.lif.backends import ffi as ffi_backend
from snnjax.lif.backends.ffi import (
    fold_batch,
    kernel_suffix,
    mask_batched_t_max,
    unfold_batch,
)
from snnjax.lif.events import Events, event_capacity
from snnjax.lif.grad import event_spike_times
from snnjax.spikes import check_spike_times

__all__ = ["compiled_conv_events", "conv_lif_layer", "gathered_conv_events"]


@functools.cache
def _sort_kernel(kh: int, kw: int, n_events: int):
    """``(input_times [B, H, W, C, K], t_max) -> (times, source, slot [B*P, E], n_valid [B*P])``."""

    @jax.custom_batching.custom_vmap
    def sort(input_times, t_max):
        batch, height, width = input_times.shape[:3]
        rows = batch * (height - kh + 1) * (width - kw + 1)
        dtype = input_times.dtype
        out_types = (
            jax.ShapeDtypeStruct((rows, n_events), dtype),  # event_times
            jax.ShapeDtypeStruct((rows, n_events), jnp.int32),  # source (patch row)
            jax.ShapeDtypeStruct((rows, n_events), jnp.int32),  # slot (image slot)
            jax.ShapeDtypeStruct((rows,), jnp.int32),  # n_valid
        )
        call = jax.ffi.ffi_call(f"SnnjaxConvSortEvents{kernel_suffix(dtype)}", out_types)
        return tuple(call(input_times, t_max, kh=np.int64(kh), kw=np.int64(kw)))

    @sort.def_vmap
    def rule(axis_size, in_batched, input_times, t_max):
        input_times, t_max = mask_batched_t_max(axis_size, in_batched, input_times, t_max)
        out = sort(fold_batch(input_times, any(in_batched), axis_size), t_max)
        return tuple(unfold_batch(o, axis_size) for o in out), (True,) * 4

    return sort


@functools.cache
def _scatter_kernel(kh: int, kw: int, image: tuple[int, int, int, int]):
    """``(d_event_times [B*P, E], slot [B*P, E]) -> d_input_times [B, H, W, C, K]``."""
    positions = (image[0] - kh + 1) * (image[1] - kw + 1)

    @jax.custom_batching.custom_vmap
    def scatter(d_event_times, slot):
        shape = (d_event_times.shape[0] // positions,) + image
        out_type = jax.ShapeDtypeStruct(shape, d_event_times.dtype)
        call = jax.ffi.ffi_call(
            f"SnnjaxConvScatterEvents{kernel_suffix(d_event_times.dtype)}", out_type
        )
        return call(d_event_times, slot)

    @scatter.def_vmap
    def rule(axis_size, in_batched, d_event_times, slot):
        folded = [
            fold_batch(x, b, axis_size)
            for x, b in zip((d_event_times, slot), in_batched, strict=True)
        ]
        return unfold_batch(scatter(*folded), axis_size), True

    return scatter


@functools.cache
def _sort_with_vjp(kh: int, kw: int, n_events: int, image: tuple[int, int, int, int]):
    """The compiled conv sort of ``[B, *image]`` trains; the gradient of the event times
    goes back to the image slots (summed over the patches that hold them)."""

    @jax.custom_vjp
    def sort(input_times, t_max):
        times, source, _slot, n_valid = _sort_kernel(kh, kw, n_events)(input_times, t_max)
        return times, source, n_valid

    def fwd(input_times, t_max):
        times, source, slot, n_valid = _sort_kernel(kh, kw, n_events)(input_times, t_max)
        return (times, source, n_valid), (slot, jnp.zeros_like(t_max))

    def bwd(residuals, cotangents):
        slot, zero_t_max = residuals
        return _scatter_kernel(kh, kw, image)(cotangents[0], slot), zero_t_max

    sort.defvjp(fwd, bwd)
    return sort


def compiled_conv_events(
    input_times: jax.Array, kernel_size: tuple[int, int], t_max: jax.Array, n_events: int
) -> tuple[Events, jax.Array]:
    """Event lists of every receptive field from one compiled sort per image (CPU).

    Args:
      input_times: ``[B, H, W, C, K]`` spike trains (s), ``inf`` = empty.
      kernel_size: ``(kh, kw)``.
      t_max: slots at or after ``t_max`` are not events.
      n_events: static events ``E`` kept per patch (the earliest).

    Returns:
      ``(events [B*H'*W', E], n_overflow [B*H'*W'] int32)``, patches in ``(b, p, q)``
      row-major order, sources = patch rows ``(di*kw + dj)*C + c``; identical to
      :func:`gathered_conv_events`.
    """
    kh, kw = kernel_size
    image = tuple(int(d) for d in input_times.shape[1:])
    t_max = jnp.reshape(jnp.asarray(t_max, input_times.dtype), ())
    times, source, n_valid = _sort_with_vjp(kh, kw, int(n_events), image)(input_times, t_max)
    n_overflow = jnp.maximum(n_valid - n_events, 0).astype(jnp.int32)
    return Events(times=times, source=source), n_overflow


def _pair(v, name: str) -> tuple[int, int]:
    if is_int(v):
        v = (int(v), int(v))
    v = tuple(int(s) for s in v)
    if len(v) != 2 or min(v) < 1:
        raise ValueError(f"{name} must be a positive int or a pair of them, got {v!r}")
    return v


def conv_patches(input_times: jax.Array, kernel_size: Sequence[int]) -> jax.Array:
    """Receptive-field patches of a "valid", stride-1 convolution, by index gather.

    No multiplication is involved (an identity-kernel convolution would turn ``inf * 0``
    into NaN), and no output-channel factor: the result holds ``kh * kw`` copies of the
    input.

    Args:
      input_times: ``[..., H, W, C, K]`` spike trains.
      kernel_size: ``(kh, kw)``.

    Returns:
      ``[..., H - kh + 1, W - kw + 1, kh * kw * C, K]``; the patch axis is ordered
      ``(di, dj, c)`` row-major, matching ``kernel.reshape(kh * kw * C, features)`` for a
      kernel ``[kh, kw, C, features]``.
    """
    kh, kw = _pair(kernel_size, "kernel_size")
    height, width, channels, k_in = input_times.shape[-4:]
    out_h, out_w = height - kh + 1, width - kw + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"kernel_size {(kh, kw)} is larger than the input image {(height, width)}")
    rows = np.arange(out_h)[:, None] + np.arange(kh)[None, :]  # [H', kh]
    cols = np.arange(out_w)[:, None] + np.arange(kw)[None, :]  # [W', kw]
    # Gather rows then columns: [..., H', kh, W, C, K] -> [..., H', kh, W', kw, C, K].
    lead = input_times.ndim - 4
    x = jnp.take(input_times, rows.reshape(-1), axis=lead)
    x = x.reshape(input_times.shape[:lead] + (out_h, kh, width, channels, k_in))
    x = jnp.take(x, cols.reshape(-1), axis=lead + 2)
    x = x.reshape(input_times.shape[:lead] + (out_h, kh, out_w, kw, channels, k_in))
    # -> [..., H', W', kh, kw, C, K] -> [..., H', W', kh*kw*C, K].
    x = jnp.moveaxis(x, lead + 1, lead + 2)
    return x.reshape(input_times.shape[:lead] + (out_h, out_w, kh * kw * channels, k_in))


def gathered_conv_events(
    input_times: jax.Array,
    kernel_size: tuple[int, int],
    t_max: jax.Array,
    n_events: int,
    backend: EventBackend,
) -> tuple[Events, jax.Array]:
    """Event lists of every receptive field: the gathered patches (:func:`conv_patches`)
    sorted by ``backend.sort_events`` (any backend, any platform). Same arguments and
    result as :func:`compiled_conv_events`."""
    patches = conv_patches(input_times, kernel_size)
    flat = patches.reshape((math.prod(patches.shape[:3]),) + patches.shape[3:])
    return backend.sort_events(flat, t_max, n_events)


def _conv_events(input_times, kernel_size, t_max, n_events, backend, compiled: bool):
    """The compiled event lists on CPU when ``compiled`` (the ``"ffi"`` backend runs
    there), the gathered ones elsewhere."""
    gathered = functools.partial(
        gathered_conv_events, kernel_size=kernel_size, n_events=n_events, backend=backend
    )
    if not compiled:
        return gathered(input_times, t_max=t_max)
    own = functools.partial(compiled_conv_events, kernel_size=kernel_size, n_events=n_events)
    return jax.lax.platform_dependent(
        input_times,
        t_max,
        cpu=lambda x, t: own(x, t_max=t),
        default=lambda x, t: gathered(x, t_max=t),
    )


def _check_layer(input_times, kernel, params, max_spikes, max_input_events, t_max) -> None:
    """The argument checks of :func:`snnjax.lif_layer`, for a convolution."""
    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be snnjax.LIFParams, got {type(params).__name__}")
    for name, x in (("input_times", input_times), ("kernel", kernel)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name} must be a float array, got {x.dtype}")
    if input_times.ndim < 4 or kernel.ndim != 4 or input_times.shape[-2] != kernel.shape[2]:
        raise ValueError(
            f"conv_lif_layer needs input_times [..., H, W, C, K_in] and kernel [kh, kw, C, "
            f"features] with the same C, got {input_times.shape} and {kernel.shape}"
        )
    params.check_n_out(kernel.shape[-1])
    if not is_int(max_spikes) or max_spikes < 1:
        raise ValueError(f"max_spikes must be a positive int (static), got {max_spikes!r}")
    if max_input_events is not None and (not is_int(max_input_events) or max_input_events < 1):
        raise ValueError(
            f"max_input_events must be a positive int or None, got {max_input_events!r}"
        )
    if not isinstance(t_max, jax.core.Tracer) and not float(np.asarray(t_max)) > 0:
        raise ValueError(f"t_max must be > 0, got {t_max!r}")
    check_spike_times(input_times, "input_times")
    if not isinstance(kernel, jax.core.Tracer) and not np.isfinite(np.asarray(kernel)).all():
        raise ValueError("kernel contains NaN or inf")
    dtype = np.dtype(jnp.result_type(input_times.dtype, kernel.dtype))
    if dtype not in (np.float32, np.float64):
        raise TypeError(
            f"conv_lif_layer computes in float32 or float64, got {dtype.name}: cast "
            "input_times and kernel with .astype(jnp.float32)"
        )


def conv_lif_layer(
    input_times: ArrayLike,
    kernel: ArrayLike,
    params: LIFParams,
    *,
    max_spikes: int,
    t_max: ArrayLike,
    max_input_events: int | None = None,
    backend: str | EventBackend | None = None,
) -> LayerOutput:
    """Exact spike times of a "valid", stride-1 convolution of LIF neurons.

    Equals :func:`snnjax.lif_layer` applied to the patches (:func:`conv_patches`) with
    ``(..., H', W')`` as batch dimensions and weights ``kernel.reshape(kh*kw*C,
    features)`` (spike times, counts and gradients; gradients up to the order of a sum).
    On CPU with the ``"ffi"`` backend the patches are never gathered (module doc).

    Args:
      input_times: ``[..., H, W, C, K_in]`` float spike trains (s), sorted per neuron,
        ``inf`` = empty.
      kernel: ``[kh, kw, C, features]`` float.
      params: :class:`snnjax.LIFParams` (``theta``, ``delta_theta`` scalar or
        ``[features]``).
      max_spikes: static buffer ``K`` per output neuron.
      t_max: end of the simulation (s).
      max_input_events: optional static bound on the input events per receptive field;
        the events beyond it are counted in ``n_input_overflow``, never dropped silently.
      backend: event backend, as in :func:`snnjax.lif_layer`.

    Returns:
      :class:`snnjax.LayerOutput` with ``times [..., H', W', features, max_spikes]``,
      ``n_dropped`` and ``n_unresolved [..., H', W', features]`` and ``n_input_overflow
      [...]`` (summed over the output positions).

    Example:
      >>> import jax.numpy as jnp, snnjax
      >>> x = jnp.full((2, 6, 6, 1, 1), 0.01)  # [B, H, W, C, K_in]
      >>> out = conv_lif_layer(
      ...     x, jnp.ones((3, 3, 1, 4)), snnjax.LIFParams(0.13, 1.0), max_spikes=2, t_max=1.0
      ... )
      >>> out.times.shape, out.n_input_overflow.shape
      ((2, 4, 4, 4, 2), (2,))
    """
    input_times = jnp.asarray(input_times)
    kernel = jnp.asarray(kernel)
    _check_layer(input_times, kernel, params, max_spikes, max_input_events, t_max)
    kh, kw = int(kernel.shape[0]), int(kernel.shape[1])
    if input_times.shape[-4] < kh or input_times.shape[-3] < kw:
        raise ValueError(
            f"kernel_size {(kh, kw)} is larger than the input image {input_times.shape[-4:-2]}"
        )
    dtype = jnp.result_type(input_times.dtype, kernel.dtype)
    chosen = resolve_backend(backend, dtype, params)
    compiled = backend_name(backend, platform="cpu", dtype=dtype, params=params) == "ffi"
    return _conv_layer(
        input_times.astype(dtype),
        kernel.astype(dtype),
        params,
        t_max,
        int(max_spikes),
        max_input_events,
        chosen,
        compiled and ffi_backend.supports(dtype, params),
    )


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _conv_layer(
    input_times, kernel, params, t_max, max_spikes, max_input_events, backend, compiled
):
    """Jitted body of :func:`conv_lif_layer`."""
    dtype = kernel.dtype
    lead = input_times.shape[:-4]
    height, width, channels, k_in = input_times.shape[-4:]
    kh, kw, _, n_out = kernel.shape
    out_shape = lead + (height - kh + 1, width - kw + 1)
    x = input_times.reshape((math.prod(lead),) + input_times.shape[-4:])
    t_max = jnp.asarray(t_max, dtype)
    params = jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), params)
    n_events = event_capacity(kh * kw * channels, k_in, max_input_events)
    events, n_overflow = _conv_events(x, (kh, kw), t_max, n_events, backend, compiled)
    weights = kernel.reshape(kh * kw * channels, n_out)
    times, n_spikes, n_unresolved = event_spike_times(
        events, weights, params, t_max, max_spikes, backend
    )
    # (as snnjax.lif_layer: n_spikes saturates, no int32 overflow)
    n_beyond = jnp.maximum(n_spikes - max_spikes, 0)
    n_dropped = n_beyond + jnp.minimum(n_unresolved, jnp.iinfo(jnp.int32).max - n_beyond)
    n_pos = out_shape[-2] * out_shape[-1]
    return LayerOutput(
        times=times.reshape(out_shape + (n_out, max_spikes)),
        n_dropped=n_dropped.reshape(out_shape + (n_out,)),
        n_input_overflow=jnp.sum(n_overflow.reshape(lead + (n_pos,)), axis=-1, dtype=jnp.int32),
        n_unresolved=n_unresolved.reshape(out_shape + (n_out,)),
    )
