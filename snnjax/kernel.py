"""The event loop: exact spike times of a layer of LIF neurons (forward pass).

One pass over the time-sorted input events of each sample; the state of every neuron
(``a``, ``b`` of the closed form and the accumulated reset ``R``) is kept *relative to the
time of the current event*, so it never overflows however long the simulation is (all
factors carried from one event to the next are decays ``exp(-dt/tau) <= 1``).

After event ``m`` is integrated, the neuron can only cross threshold in the interval
``(t_m, min(t_{m+1}, t_max)]``. The first crossing there is the smaller root of the
quadratic (:func:`snnjax.lif.crossing_z`); accepting it applies the subtractive reset and
the search repeats inside the same interval (several spikes between two inputs). Work per
event is vectorised over ``[batch, n_out]``; the loop stops after the last event before
``t_max`` of the longest sample, so padded (``inf``) slots cost nothing.

The kernel takes an explicit batch dimension with *shared* weights (rather than being
written for one sample and vmapped) so that the backward pass can accumulate the weight
gradient in one ``[n_in, n_out]`` buffer instead of one per sample.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from snnjax import cpu_kernel
from snnjax.lif import crossing_z

__all__ = ["EventForward", "sort_events", "forward_events", "make_event_forward"]


class EventForward(NamedTuple):
    """Result of :func:`forward_events` (``B`` samples, ``N`` neurons, ``K`` slots).

    Attributes:
      times: ``[B, N, K]`` spike times (s), sorted per neuron; ``inf`` = empty slot.
      n_spikes: ``[B, N]`` int32, all spikes fired, including those beyond the buffer.
      event_index: ``[B, N, K]`` int32, index (in the sorted event list) of the last input
        event before each spike: events ``0..event_index`` are the spike's causal inputs.
        ``-1`` for empty slots.
      slope: ``[B, N, K]`` ``x = sqrt(b**2 - 4ac)`` of each spike in the frame of its
        interval (``1`` for empty slots). ``du/dt`` at the crossing is ``x / (z tau_mem)``
        times ``tau_mem``; small ``x`` means a grazing crossing.
      frame_time: ``[B, N, K]`` time of event ``event_index`` (the reference time of the
        spike's ``a, b, x``); ``0`` for empty slots.
      n_steps: scalar int32, number of events the loop integrated (max over the batch).
    """

    times: jax.Array
    n_spikes: jax.Array
    event_index: jax.Array
    slope: jax.Array
    frame_time: jax.Array
    n_steps: jax.Array


def sort_events(input_times: jax.Array, t_max, max_events: int | None = None,
                compiled: bool = False):
    """Merge the input spike trains of each sample into one time-sorted event list.

    Args:
      input_times: ``[B, n_in, K_in]`` spike times; ``inf`` = empty slot.
      t_max: events at or after ``t_max`` cannot cause a spike before ``t_max`` and are
        dropped (set to ``inf``).
      max_events: static bound ``E`` on the number of events kept per sample (the
        earliest ``E``); ``None`` keeps all ``n_in * K_in`` slots.
      compiled: sort with the compiled CPU kernel (:func:`snnjax.cpu_kernel.sort_events`),
        which only sorts the valid events and gathers / scatters (gradient) only their
        times; much faster for mostly empty multi-spike buffers (e.g. 800 neurons x 30
        slots) than XLA's sort, gather and scatter of every slot.

    Returns:
      ``(event_times [B, E], event_source [B, E] int32, n_overflow [B] int32)``: times sorted
      ascending with ``inf`` padding (differentiable w.r.t. ``input_times``), the
      presynaptic neuron of each event, and how many valid events did not fit in ``E``
      (nonzero means the bound is too small and the result is wrong;
      :func:`snnjax.lif_layer` reports it).
    """
    batch, n_in, k_in = input_times.shape
    n_events = n_in * k_in if max_events is None else min(max_events, n_in * k_in)
    if compiled:
        times, source, n_valid = cpu_kernel.sort_events(input_times, t_max, n_events)
        n_overflow = jnp.maximum(n_valid - n_events, 0).astype(jnp.int32)
        return times, source, n_overflow
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
    return times, source, n_overflow


class _Carry(NamedTuple):
    m: jax.Array        # scalar int32: index of the event being integrated
    a: jax.Array        # [B, N] sum_j w_j exp((t_j - t_m)/tau_syn)
    b: jax.Array        # [B, N] sum_j w_j exp((t_j - t_m)/tau_mem) - R (accumulated resets)
    count: jax.Array    # [B, N] int32 spikes fired so far (incl. dropped)
    record: jax.Array   # [B*N, K, 3] per slot: (spike time, slope x, event index)


def _per_neuron(v):
    """Broadcast a scalar or ``[N]`` parameter against ``[B, N]`` state."""
    return v if jnp.ndim(v) == 0 else jnp.asarray(v)[None, :]


def forward_events(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
                   max_spikes: int) -> EventForward:
    """Exact spike times of ``N`` LIF neurons driven by sorted input events (SPEC §3).

    Args:
      event_times: ``[B, E]`` sorted event times (s), ``inf`` padded, all ``< t_max``.
      event_source: ``[B, E]`` int32 presynaptic index of each event (row of ``weights``).
      weights: ``[n_in, N]`` synaptic weights, shared by the batch.
      tau_syn, theta, delta_theta: scalars or ``[N]``; ``tau_mem = 2 tau_syn``.
      t_max: end of the simulation (s); no spike is emitted after it.
      max_spikes: static buffer size ``K`` per neuron.

    Returns:
      An :class:`EventForward`.
    """
    batch, _ = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    k_slots = max_spikes
    tau_syn = _per_neuron(tau_syn)
    tau_mem = 2.0 * tau_syn
    c = _per_neuron(theta) / tau_mem
    kappa = _per_neuron(delta_theta) / tau_mem
    # Steps: events before t_max of the longest sample; inf-padded slots are never visited.
    n_steps = jnp.max(jnp.sum(jnp.isfinite(event_times), axis=1)).astype(jnp.int32)
    padded_times = jnp.concatenate([event_times, jnp.full((batch, 1), jnp.inf, dtype)], axis=1)
    neuron = jnp.arange(batch * n_out).reshape(batch, n_out)

    def step(carry: _Carry) -> _Carry:
        m = carry.m
        t_m = padded_times[:, m]
        t_prev = jnp.where(m > 0, padded_times[:, jnp.maximum(m - 1, 0)], t_m)
        t_next = jnp.minimum(padded_times[:, m + 1], t_max)
        valid = jnp.isfinite(t_m)
        # Decay the state from the frame of the previous event to the frame of t_m.
        dt = jnp.where(valid, t_m - t_prev, 0.0)[:, None]
        w = weights[event_source[:, m]] * valid[:, None].astype(dtype)
        a = carry.a * jnp.exp(-dt / tau_syn) + w
        b = carry.b * jnp.exp(-dt / tau_mem) + w
        # Interval (t_m, t_hi], t_hi = min(next event, t_max); z = exp((t - t_m)/tau_mem).
        open_ = (valid & (t_next > t_m))[:, None]
        t_lo = jnp.where(valid, t_m, 0.0)[:, None]
        t_hi = jnp.where(open_, t_next[:, None], t_lo)
        z_hi = jnp.exp((t_hi - t_lo) / tau_mem)

        def crossing(b, z_lo):
            z, x, ok = crossing_z(a, b, c)
            return z, x, ok & open_ & (z > z_lo) & (z <= z_hi)

        def fire(state):
            """Record the spikes in ``fire``, reset, and look for the next crossing."""
            b, count, record, z, x, firing = state
            t_spike = jnp.clip(t_lo + tau_mem * jnp.log(z), t_lo, t_hi)
            slot = jnp.where(firing & (count < k_slots), count, k_slots)
            update = jnp.stack([t_spike, x, jnp.full_like(x, m.astype(dtype))], axis=-1)
            record = record.at[neuron, slot].set(update, mode="drop")
            b = jnp.where(firing, b - kappa * z, b)
            count = count + firing.astype(jnp.int32)
            z_next, x_next, firing_next = crossing(b, jnp.where(firing, z, jnp.inf))
            return b, count, record, z_next, x_next, firing_next

        z, x, firing = crossing(b, 1.0)
        b, count, record, *_ = jax.lax.while_loop(
            lambda s: jnp.any(s[-1]), fire, (b, carry.count, carry.record, z, x, firing))
        return _Carry(m=m + 1, a=a, b=b, count=count, record=record)

    zeros = jnp.zeros((batch, n_out), dtype)
    empty = jnp.array([jnp.inf, 1.0, -1.0], dtype)
    init = _Carry(m=jnp.zeros((), jnp.int32), a=zeros, b=zeros,
                  count=jnp.zeros((batch, n_out), jnp.int32),
                  record=jnp.broadcast_to(empty, (batch * n_out, k_slots, 3)))
    final = jax.lax.while_loop(lambda cr: cr.m < n_steps, step, init)
    record = final.record.reshape(batch, n_out, k_slots, 3)
    return make_event_forward(event_times, record[..., 0], record[..., 1],
                              record[..., 2].astype(jnp.int32), final.count)


def make_event_forward(event_times, times, slope, event_index, n_spikes) -> EventForward:
    """Assemble an :class:`EventForward`, deriving the frame times and the step count."""
    batch = event_times.shape[0]
    frame_time = jnp.where(
        event_index >= 0,
        jnp.take_along_axis(event_times, jnp.maximum(event_index, 0).reshape(batch, -1),
                            axis=1).reshape(event_index.shape), 0.0)
    n_steps = jnp.max(jnp.sum(jnp.isfinite(event_times), axis=1)).astype(jnp.int32)
    return EventForward(times=times, n_spikes=n_spikes, event_index=event_index, slope=slope,
                        frame_time=frame_time, n_steps=n_steps)
