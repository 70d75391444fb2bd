"""Linear recurrences and segmented sums as parallel scans (no sequential loop).

All are :func:`jax.lax.associative_scan` (depth ``log2`` of the length) with a fixed
combination tree, so their results are bitwise reproducible on every platform (unlike a
scatter-add, which uses atomics on GPU).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["decaying_sum", "segment_totals"]


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


def segment_totals(values: jax.Array, segment: jax.Array, n_segments: int) -> jax.Array:
    """Deterministic ``segment_sum``: ``out[i] = sum of values[r]`` over rows ``r`` with
    ``segment[r] == i``.

    Sorts the rows by segment (a stable integer sort), sums each run with a segmented
    parallel scan and reads the running sum at the end of every run. Rows with a segment
    outside ``[0, n_segments)`` are ignored.

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
    starts = jnp.concatenate([jnp.ones((1,), bool), keys[1:] != keys[:-1]])
    starts = starts.reshape(starts.shape + (1,) * (rows.ndim - 1))
    _, running = jax.lax.associative_scan(
        _segmented, (jnp.broadcast_to(starts, rows.shape), rows), axis=0
    )
    ids = jnp.arange(n_segments, dtype=keys.dtype)
    end = jnp.searchsorted(keys, ids, side="right").astype(jnp.int32) - 1
    hit = (end >= 0) & (keys[jnp.maximum(end, 0)] == ids)
    hit = hit.reshape(hit.shape + (1,) * (rows.ndim - 1))
    return jnp.where(hit, running[jnp.maximum(end, 0)], jnp.zeros((), rows.dtype))
