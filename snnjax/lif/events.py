"""Input events: the merged, time-sorted spikes of one sample (:class:`Events`).

A layer sees its input spike trains ``[B, n_in, K_in]`` (``inf`` = empty slot) as one
sorted list of events per sample: every spike before ``t_max`` is an event, with the
presynaptic neuron that fired it. Every event backend sorts (``EventBackend.sort_events``);
:func:`sort_events` here is the portable XLA sort, which the ``"loop"`` backend uses.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["Events", "event_capacity", "sort_events"]


class Events(NamedTuple):
    """The input events of ``B`` samples, ``E`` slots each.

    Attributes:
      times: ``[B, E]`` event times (s), sorted ascending per sample, ``inf`` padded; every
        finite time is ``< t_max``.
      source: ``[B, E]`` int32 presynaptic neuron of each event (the row of the weight
        matrix); arbitrary (but a valid index) on padding.
    """

    times: jax.Array
    source: jax.Array


def event_capacity(n_in: int, k_in: int, max_events: int | None) -> int:
    """Number ``E`` of event slots per sample: all ``n_in * k_in`` input slots, or fewer
    when the static bound ``max_events`` is smaller."""
    n_slots = n_in * k_in
    return n_slots if max_events is None else min(int(max_events), n_slots)


def sort_events(
    input_times: ArrayLike, t_max: ArrayLike, n_events: int
) -> tuple[Events, jax.Array]:
    """Merge the input spike trains of each sample into one time-sorted event list (XLA).

    Args:
      input_times: ``[B, n_in, K_in]`` spike times; ``inf`` = empty slot.
      t_max: events at or after ``t_max`` cannot cause a spike before ``t_max`` and are
        dropped (set to ``inf``).
      n_events: static number ``E <= n_in * K_in`` of events kept per sample (the earliest
        ``E``; see :func:`event_capacity`).

    Returns:
      ``(events, n_overflow)``: the :class:`Events` (times differentiable w.r.t.
      ``input_times``) and ``[B]`` int32, how many valid events did not fit in ``E``
      (nonzero means the bound is too small and the result is wrong;
      :func:`snnjax.lif_layer` reports it).
    """
    input_times = jnp.asarray(input_times)
    batch, n_in, k_in = input_times.shape
    flat = input_times.reshape(batch, n_in * k_in)
    flat = jnp.where(flat < t_max, flat, jnp.inf)
    if n_events < flat.shape[1]:
        # top_k of -t picks the earliest events (sorted) without sorting all slots.
        neg, order = jax.lax.top_k(-flat, n_events)
        times = -neg
    else:
        order = jnp.argsort(flat, axis=1, stable=True)
        times = jnp.take_along_axis(flat, order, axis=1)
    n_valid = jnp.sum(jnp.isfinite(flat), axis=1)
    n_overflow = jnp.maximum(n_valid - n_events, 0).astype(jnp.int32)
    source = (order // k_in).astype(jnp.int32)
    return Events(times=times, source=source), n_overflow
