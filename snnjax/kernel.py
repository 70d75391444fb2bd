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

from snnjax.lif import crossing_z

__all__ = ["EventForward", "sort_events", "forward_events"]


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


def sort_events(input_times: jax.Array, t_max, max_events: int | None = None):
    """Merge the input spike trains of each sample into one time-sorted event list.

    Args:
      input_times: ``[B, n_in, K_in]`` spike times; ``inf`` = empty slot.
      t_max: events at or after ``t_max`` cannot cause a spike before ``t_max`` and are
        dropped (set to ``inf``).
      max_events: static bound ``E`` on the number of events kept per sample (the
        earliest ``E``); ``None`` keeps all ``n_in * K_in`` slots.

    Returns:
      ``(event_times [B, E], event_source [B, E] int32, n_overflow [B] int32)``: times sorted
      ascending with ``inf`` padding, the presynaptic neuron of each event, and how many
      valid events did not fit in ``E`` (nonzero means the bound is too small and the
      result is wrong; :func:`snnjax.lif_layer` reports it).
    """
    batch, n_in, k_in = input_times.shape
    flat = input_times.reshape(batch, n_in * k_in)
    flat = jnp.where(flat < t_max, flat, jnp.inf)
    n_events = flat.shape[1] if max_events is None else min(max_events, flat.shape[1])
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
    m: jax.Array            # scalar int32: index of the event being integrated
    a: jax.Array            # [B, N] sum_j w_j exp((t_j - t_m)/tau_syn)
    b: jax.Array            # [B, N] sum_j w_j exp((t_j - t_m)/tau_mem) - R
    count: jax.Array        # [B, N] int32 spikes fired so far (incl. dropped)
    times: jax.Array        # [B, N, K]
    event_index: jax.Array  # [B, N, K] int32
    slope: jax.Array        # [B, N, K]
    frame_time: jax.Array   # [B, N, K]


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
    batch, n_events = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    tau_mem = 2.0 * tau_syn
    c = theta / tau_mem
    kappa = delta_theta / tau_mem
    k_slots = max_spikes
    rows = jnp.arange(batch)[:, None]
    cols = jnp.arange(n_out)[None, :]
    # Number of steps: events before t_max of the longest sample.
    n_steps = jnp.max(jnp.sum(jnp.isfinite(event_times), axis=1)).astype(jnp.int32)
    padded_times = jnp.concatenate([event_times, jnp.full((batch, 1), jnp.inf, dtype)], axis=1)

    def emit(carry: _Carry, z_lo, z_hi, t_m):
        """Fire every spike of the interval ``(z_lo, z_hi]`` (frame ``t_m``), in order."""

        def cond(state):
            return jnp.any(state[2])

        def body(state):
            carry, z_lo, _ = state
            z, x, ok = crossing_z(carry.a, carry.b, c)
            fire = ok & (z > z_lo) & (z <= z_hi)
            slot = jnp.where(fire & (carry.count < k_slots), carry.count, k_slots)
            t_spike = t_m[:, None] + tau_mem * jnp.log(z)
            idx = (rows, cols, slot)
            carry = carry._replace(
                b=jnp.where(fire, carry.b - kappa * z, carry.b),
                count=carry.count + fire.astype(jnp.int32),
                times=carry.times.at[idx].set(t_spike, mode="drop"),
                event_index=carry.event_index.at[idx].set(carry.m, mode="drop"),
                slope=carry.slope.at[idx].set(x, mode="drop"),
                frame_time=carry.frame_time.at[idx].set(
                    jnp.broadcast_to(t_m[:, None], fire.shape), mode="drop"),
            )
            return carry, jnp.where(fire, z, z_lo), fire

        z_lo = jnp.broadcast_to(z_lo, carry.a.shape)
        carry, _, _ = jax.lax.while_loop(cond, body, (carry, z_lo, jnp.ones_like(carry.a,
                                                                                   bool)))
        return carry

    def step(carry: _Carry) -> _Carry:
        m = carry.m
        t_m = padded_times[:, m]
        t_prev = jnp.where(m > 0, padded_times[:, jnp.maximum(m - 1, 0)], t_m)
        t_next = jnp.minimum(padded_times[:, m + 1], t_max)
        valid = jnp.isfinite(t_m)
        # Decay the state from the frame of the previous event to the frame of t_m.
        dt = jnp.where(valid, t_m - t_prev, 0.0)
        decay_syn = jnp.exp(-dt / tau_syn)[:, None] if jnp.ndim(tau_syn) == 0 else jnp.exp(
            -dt[:, None] / tau_syn)
        decay_mem = jnp.exp(-dt / tau_mem)[:, None] if jnp.ndim(tau_mem) == 0 else jnp.exp(
            -dt[:, None] / tau_mem)
        w = weights[event_source[:, m]] * valid[:, None].astype(dtype)
        carry = carry._replace(a=carry.a * decay_syn + w, b=carry.b * decay_mem + w)
        # Interval (t_m, t_next]: z = exp((t - t_m)/tau_mem) in (1, z_hi].
        span = jnp.where(valid & (t_next > t_m), t_next - t_m, -1.0)
        z_hi = jnp.where(span[:, None] >= 0,
                         jnp.exp(jnp.maximum(span, 0.0)[:, None] / tau_mem), 0.0)
        carry = emit(carry, jnp.ones((), dtype), z_hi, jnp.where(valid, t_m, 0.0))
        return carry._replace(m=m + 1)

    zeros = jnp.zeros((batch, n_out), dtype)
    init = _Carry(
        m=jnp.zeros((), jnp.int32), a=zeros, b=zeros,
        count=jnp.zeros((batch, n_out), jnp.int32),
        times=jnp.full((batch, n_out, k_slots), jnp.inf, dtype),
        event_index=jnp.full((batch, n_out, k_slots), -1, jnp.int32),
        slope=jnp.ones((batch, n_out, k_slots), dtype),
        frame_time=jnp.zeros((batch, n_out, k_slots), dtype),
    )
    final = jax.lax.while_loop(lambda cr: cr.m < n_steps, step, init)
    return EventForward(times=final.times, n_spikes=final.count,
                        event_index=final.event_index, slope=final.slope,
                        frame_time=final.frame_time, n_steps=n_steps)
