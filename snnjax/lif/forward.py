"""The result of an event backend's forward pass (:class:`EventForward`).

Every backend computes, for each output neuron, its spike times and, per spike, what the
exact backward pass needs: the last input event before the spike (the spike's causal
inputs are events ``0..event_index``) and the slope term ``x`` of the closed-form crossing
(:func:`snnjax.lif.crossing_z`) in the frame of that event.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["EventForward", "make_event_forward"]


class EventForward(NamedTuple):
    """Result of a backend's forward pass (``B`` samples, ``N`` neurons, ``K`` slots).

    Attributes:
      times: ``[B, N, K]`` spike times (s), sorted per neuron; ``inf`` = empty slot.
      n_spikes: ``[B, N]`` int32, all spikes fired, including those beyond the buffer
        (saturates at ``2**31 - 1``: a neuron is not simulated further once it gets there).
      event_index: ``[B, N, K]`` int32, index (in the sorted event list) of the last input
        event before each spike: events ``0..event_index`` are the spike's causal inputs.
        ``-1`` for empty slots.
      slope: ``[B, N, K]`` ``x = sqrt(b**2 - 4ac)`` of each spike in the frame of its
        interval (``1`` for empty slots). ``du/dt`` at the crossing is ``x / (z tau_mem)``
        times ``tau_mem``; small ``x`` means a grazing crossing.
      frame_time: ``[B, N, K]`` time of event ``event_index`` (the reference time of the
        spike's ``a, b, x``); ``0`` for empty slots.
      n_steps: scalar int32, number of events the loop integrated (max over the batch).
      n_unresolved: ``[B, N]`` int32, crossings that the dtype could not resolve: a
        threshold crossing after an input event or spike that lies within rounding of it
        (``z <= z_lo`` computed although the parabola's vertex lies beyond ``z_lo``), so
        the neuron stops firing in that interval; counted once per interval. Nonzero
        means spikes are missing (see :func:`snnjax.lif_layer`).
    """

    times: jax.Array
    n_spikes: jax.Array
    event_index: jax.Array
    slope: jax.Array
    frame_time: jax.Array
    n_steps: jax.Array
    n_unresolved: jax.Array


def make_event_forward(
    event_times: ArrayLike,
    times: ArrayLike,
    slope: ArrayLike,
    event_index: ArrayLike,
    n_spikes: ArrayLike,
    n_unresolved: ArrayLike | None = None,
) -> EventForward:
    """Assemble an :class:`EventForward`, deriving the frame times and the step count.

    Args:
      event_times: ``[B, E]`` the sorted input event times (:attr:`Events.times`).
      times, slope, event_index, n_spikes, n_unresolved: as in :class:`EventForward`
        (``n_unresolved=None``: a caller that does not detect them, all zeros).
    """
    event_times = jnp.asarray(event_times)
    event_index = jnp.asarray(event_index)
    batch = event_times.shape[0]
    frame_time = jnp.where(
        event_index >= 0,
        jnp.take_along_axis(
            event_times,
            jnp.maximum(event_index, 0).reshape(batch, math.prod(event_index.shape[1:])),
            axis=1,
        ).reshape(event_index.shape),
        0.0,
    )
    n_steps = jnp.max(jnp.sum(jnp.isfinite(event_times), axis=1), initial=0).astype(jnp.int32)
    return EventForward(
        times=jnp.asarray(times),
        n_spikes=jnp.asarray(n_spikes),
        event_index=event_index,
        slope=jnp.asarray(slope),
        frame_time=frame_time,
        n_steps=n_steps,
        n_unresolved=(
            jnp.zeros(jnp.shape(n_spikes), jnp.int32)
            if n_unresolved is None
            else jnp.asarray(n_unresolved)
        ),
    )
