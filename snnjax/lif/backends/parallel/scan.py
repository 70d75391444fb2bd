"""Linear recurrences and segmented sums as parallel scans (no sequential loop).

All are :func:`jax.lax.associative_scan` (depth ``log2`` of the length) with a fixed
combination tree (plus integer sorts), so their results are bitwise reproducible on every
platform (unlike a scatter-add with colliding targets, which uses atomics on GPU). None
runs a sequential loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["BLOCK", "decaying_sum", "exp_kernel_sum", "run_totals", "segment_totals"]

BLOCK = 16
"""Events per block of :func:`exp_kernel_sum` (one small matmul per block)."""


def _linear(left, right):
    """Compose ``s -> d1 s + x1`` then ``s -> d2 s + x2``."""
    d1, x1 = left
    d2, x2 = right
    return d1 * d2, x1 * d2 + x2


def decaying_sum(decay: jax.Array, x: jax.Array, *, axis: int, reverse: bool = False) -> jax.Array:
    """``s_m = decay_m s_{m-1} + x_m`` (``s_{-1} = 0``) along ``axis``, for all ``m`` at once.

    With ``reverse=True``: ``s_m = decay_m s_{m+1} + x_m`` from the end. ``decay`` is
    broadcast against ``x``; with decays ``<= 1`` nothing overflows.

    Example:
      >>> decaying_sum(jnp.array([1.0, 0.5, 0.5]), jnp.array([1.0, 1.0, 1.0]), axis=0)
      Array([1.  , 1.5 , 1.75], dtype=float32)
    """
    decay = jnp.broadcast_to(decay, x.shape)
    _, s = jax.lax.associative_scan(_linear, (decay, x), axis=axis, reverse=reverse)
    return s


def _segmented(left, right):
    """Running sum that restarts where the right element starts a segment."""
    f1, v1 = left
    f2, v2 = right
    return f1 | f2, jnp.where(f2, v2, v1 + v2)


def run_totals(values: jax.Array, keys: jax.Array, *, axis: int) -> tuple[jax.Array, jax.Array]:
    """Sums over the runs of equal consecutive ``keys`` along ``axis``.

    A segmented :func:`jax.lax.associative_scan` (depth ``log2`` of the length, no loop).

    Args:
      values: ``[..., L, ...]``; keys: integers of the same number of dimensions,
        broadcastable against ``values`` (its length ``L`` along ``axis``).

    Returns:
      ``(totals, last)``: at the last element of every run (``last`` true, of the shape of
      ``keys``) the sum of the run's values; elsewhere a partial sum (to be ignored).

    Example:
      >>> totals, last = run_totals(jnp.array([1.0, 2.0, 4.0]), jnp.array([3, 3, 5]), axis=0)
      >>> totals, last
      (Array([1., 3., 4.], dtype=float32), Array([False,  True,  True], dtype=bool))
    """
    axis = axis % values.ndim
    length = values.shape[axis]
    head = jax.lax.slice_in_dim(keys, 0, length - 1, axis=axis)
    tail = jax.lax.slice_in_dim(keys, 1, length, axis=axis)
    edge = jnp.ones_like(jax.lax.slice_in_dim(keys, 0, 1, axis=axis), bool)
    changes = head != tail
    starts = jnp.concatenate([edge, changes], axis=axis)
    last = jnp.concatenate([changes, edge], axis=axis)
    starts = jnp.broadcast_to(starts, values.shape)
    _, totals = jax.lax.associative_scan(_segmented, (starts, values), axis=axis)
    return totals, last


def segment_totals(values: jax.Array, segment: jax.Array, n_segments: int) -> jax.Array:
    """Deterministic ``segment_sum``: ``out[i] = sum of values[r]`` over rows ``r`` with
    ``segment[r] == i``.

    Sorts the rows by segment (a stable integer sort), sums each run with a segmented
    parallel scan and reads the running sum at the end of every run, found by
    :func:`jax.numpy.searchsorted` with ``method="sort"`` (integer sorts: no loop, unlike
    the default ``"scan"`` method's ``log2 R`` trips). Rows with a segment outside
    ``[0, n_segments)`` are ignored.

    Args:
      values: ``[R, ...]``.
      segment: ``[R]`` int32.
      n_segments: static number of segments.

    Returns:
      ``[n_segments, ...]``.

    Example:
      >>> segment_totals(jnp.array([1.0, 2.0, 4.0]), jnp.array([1, 0, 1]), 3)
      Array([2., 5., 0.], dtype=float32)
    """
    order = jnp.argsort(segment, stable=True)
    keys = segment[order]
    rows = values[order]
    running, _ = run_totals(rows, keys.reshape(keys.shape + (1,) * (rows.ndim - 1)), axis=0)
    ids = jnp.arange(n_segments, dtype=keys.dtype)
    end = jnp.searchsorted(keys, ids, side="right", method="sort").astype(jnp.int32) - 1
    hit = (end >= 0) & (keys[jnp.maximum(end, 0)] == ids)
    hit = hit.reshape(hit.shape + (1,) * (rows.ndim - 1))
    return jnp.where(hit, running[jnp.maximum(end, 0)], jnp.zeros((), rows.dtype))


def _finite_times(times: jax.Array) -> jax.Array:
    """``inf`` padding replaced by the last finite time of the row (0 if none): zero gaps."""
    last = jnp.max(jnp.where(jnp.isfinite(times), times, -jnp.inf), axis=-1, keepdims=True)
    last = jnp.where(jnp.isfinite(last), last, 0.0)
    return jnp.where(jnp.isfinite(times), times, last)


def exp_kernel_sum(
    times: jax.Array, x: jax.Array, tau, *, reverse: bool = False, block: int = BLOCK
) -> jax.Array:
    """``s_m = sum_{j <= m} x_j exp(-(t_m - t_j) / tau)`` (``reverse``: over ``j >= m``,
    ``exp(-(t_j - t_m) / tau)``), the :func:`decaying_sum` of sorted event times, blocked.

    Within blocks of ``block`` events the sum is one small matmul with the kernel
    ``exp(-(t_m - t_j)/tau)`` (every entry ``<= 1``), across blocks a short recurrence of
    the block ends: ``B * E * block`` multiply-adds on the matrix units instead of a scan's
    ``2 log2(E)`` strided passes.

    Args:
      times: ``[B, E]`` sorted, ``inf`` padded (the padding must carry ``x = 0``).
      x: ``[B, n, E]``; tau: a scalar.

    Returns:
      ``[B, n, E]``.
    """
    if reverse:
        flip = lambda v: jnp.flip(v, axis=-1)
        return flip(exp_kernel_sum(-flip(_finite_times(times)), flip(x), tau, block=block))
    batch, n_out, n_events = x.shape
    n_blocks = -(-n_events // block)
    pad = n_blocks * block - n_events
    t = jnp.pad(_finite_times(times), ((0, 0), (0, pad)), mode="edge")
    t = t.reshape(batch, n_blocks, block)
    causal = jnp.arange(block)[:, None] <= jnp.arange(block)[None, :]  # [j, m]: j <= m
    gap = jnp.where(causal, t[:, :, None, :] - t[:, :, :, None], 0.0)
    kernel = jnp.where(causal, jnp.exp(-gap / tau), 0.0)  # [B, blocks, j, m]
    xb = jnp.pad(x, ((0, 0), (0, 0), (0, pad))).reshape(batch, n_out, n_blocks, block)
    local = jnp.einsum("bnkj,bkjm->bnkm", xb, kernel, precision=jax.lax.Precision.HIGHEST)
    t_end = t[:, :, -1]
    end_gap = t_end - jnp.concatenate([t_end[:, :1], t_end[:, :-1]], axis=1)
    carry = decaying_sum(jnp.exp(-end_gap / tau)[:, None, :], local[..., -1], axis=2)
    before = jnp.concatenate([jnp.zeros_like(carry[..., :1]), carry[..., :-1]], axis=2)
    prev_end = jnp.concatenate([t_end[:, :1], t_end[:, :-1]], axis=1)
    into = jnp.exp(-(t - prev_end[..., None]) / tau)  # [B, blocks, block], <= 1
    s = local + before[..., None] * into[:, None]
    return s.reshape(batch, n_out, n_blocks * block)[..., :n_events]
