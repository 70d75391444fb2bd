"""The ``"loop"`` backend: the event loop in pure JAX (forward and backward), any platform.

**Forward.** One pass over the time-sorted input events of each sample; the state of every
neuron (``a``, ``b`` of the closed form and the accumulated reset ``R``) is kept *relative
to the time of the current event*, so it never overflows however long the simulation is
(all factors carried from one event to the next are decays ``exp(-dt/tau) <= 1``).

After event ``m`` is integrated, the neuron can only cross threshold in the interval
``(t_m, min(t_{m+1}, t_max)]``. The first crossing there is the smaller root of the
quadratic (:func:`snnjax.lif.crossing_z`); accepting it applies the subtractive reset and
the search repeats inside the same interval (several spikes between two inputs). A crossing
that rounds to at or before the previous event or spike although it lies after it (the
dtype cannot resolve it) ends the search and is counted (``n_unresolved``); a neuron whose
spike count reaches ``2**31 - 1`` stops (the count saturates). Work per
event is vectorised over ``[batch, n_out]``; the loop stops after the last event before
``t_max`` of the longest sample, so padded (``inf``) slots cost nothing.

The loop takes an explicit batch dimension with *shared* weights (rather than being
written for one sample and vmapped) so that the backward pass can accumulate the weight
gradient in one ``[n_in, n_out]`` buffer instead of one per sample.

**Backward** (SPEC §4, see :mod:`snnjax.lif.grad`): the errors of the stored spikes with
their reset paths (:func:`snnjax.lif.grad.spike_errors`), then one reverse pass over the
events with decaying running sums ``U`` (``tau_syn`` part) and ``V`` (``tau_mem`` part):
``dL/dw_j += U + V`` and ``dL/dt_j = sum_i w_ji (U_ji / tau_syn + V_ji / tau_mem)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from snnjax.lif.backends import EventBackend
from snnjax.lif.crossing import crossing_z
from snnjax.lif.events import Events, sort_events
from snnjax.lif.forward import EventForward, make_event_forward
from snnjax.lif.grad import spike_errors
from snnjax.lif.params import LIFParams

__all__ = ["BACKEND", "SPIKE_COUNT_LIMIT", "backward_events", "forward_events"]

SPIKE_COUNT_LIMIT = 2**31 - 1
"""Spike count at which a neuron stops being simulated (int32 counts never wrap)."""


def _per_neuron(v):
    """Broadcast a scalar or ``[N]`` parameter against ``[B, N]`` state."""
    return v if jnp.ndim(v) == 0 else jnp.asarray(v)[None, :]


# ------------------------------------------------------------------------------ forward


class _Carry(NamedTuple):
    """State of the forward loop over the events, in the frame of event ``m``."""

    m: jax.Array  # scalar int32: index of the event being integrated
    a: jax.Array  # [B, N] sum_j w_j exp((t_j - t_m)/tau_syn)
    b: jax.Array  # [B, N] sum_j w_j exp((t_j - t_m)/tau_mem) - R (accumulated resets)
    count: jax.Array  # [B, N] int32 spikes fired so far (incl. dropped)
    record: jax.Array  # [B*N, K, 3] per slot: (spike time, slope x, event index)
    unresolved: jax.Array  # [B, N] int32 crossings lost to rounding


class _Firing(NamedTuple):
    """State of the inner loop that emits the spikes of one interval ``(t_m, t_hi]``."""

    b: jax.Array  # [B, N] b after the resets of the spikes emitted so far
    count: jax.Array  # [B, N] int32
    record: jax.Array  # [B*N, K, 3]
    z: jax.Array  # [B, N] candidate crossing exp((t - t_m)/tau_mem)
    x: jax.Array  # [B, N] its slope term
    firing: jax.Array  # [B, N] bool: the candidate is a spike in the interval
    unresolved: jax.Array  # [B, N] int32


def _check_event_index_exact(n_events: int, dtype) -> None:
    """The loops store event indices in the layer's dtype (exact up to ``2**mantissa``)."""
    exact = 2 ** (jnp.finfo(dtype).nmant + 1)
    if n_events > exact:
        raise ValueError(
            f"the 'loop' backend stores event indices as {jnp.dtype(dtype).name}, exact up to "
            f"{exact} events per sample; got {n_events}: use float64, a smaller "
            "max_input_events, or the 'ffi' backend"
        )


def _silent(event_times: jax.Array, n_out: int, k_slots: int, dtype) -> EventForward:
    """The forward result of a layer without input events: no spikes."""
    shape = (event_times.shape[0], n_out, k_slots)
    count = jnp.zeros(shape[:2], jnp.int32)
    return make_event_forward(
        event_times,
        jnp.full(shape, jnp.inf, dtype),
        jnp.ones(shape, dtype),
        jnp.full(shape, -1, jnp.int32),
        count,
        count,
    )


def forward_events(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    t_max: jax.Array,
    max_spikes: int,
    *,
    count_limit: int = SPIKE_COUNT_LIMIT,
) -> EventForward:
    """Exact spike times of ``N`` LIF neurons driven by sorted input events (SPEC §3).

    Args:
      events: ``[B, E]`` sorted input :class:`~snnjax.lif.events.Events`, all ``< t_max``.
      weights: ``[n_in, N]`` synaptic weights, shared by the batch.
      params: :class:`~snnjax.lif.LIFParams` of ``weights.dtype`` (scalars or ``[N]``).
      t_max: end of the simulation (s); no spike is emitted after it.
      max_spikes: static buffer size ``K`` per neuron.
      count_limit: static spike count at which a neuron stops (the compiled kernel's
        ``SNNJAX_SPIKE_COUNT_LIMIT``; lowered only by tests).

    Returns:
      An :class:`~snnjax.lif.forward.EventForward`.
    """
    event_times, event_source = events
    batch, n_events = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    k_slots = max_spikes
    if n_events == 0:  # (static) no events, no spikes; the loop cannot index zero columns
        return _silent(event_times, n_out, k_slots, dtype)
    _check_event_index_exact(n_events, dtype)
    tau_syn = _per_neuron(params.tau_syn)
    tau_mem = 2.0 * tau_syn
    c = _per_neuron(params.theta) / tau_mem
    kappa = _per_neuron(params.delta_theta) / tau_mem
    # Steps: events before t_max of the longest sample; inf-padded slots are never visited.
    n_steps = jnp.max(jnp.sum(jnp.isfinite(event_times), axis=1), initial=0).astype(jnp.int32)
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

        def crossing(b, z_lo, count):
            """Candidate, its slope, whether it is a spike, whether it is unresolved."""
            z, x, ok = crossing_z(a, b, c)
            live = ok & open_ & (count < count_limit)
            lost = live & ~(z > z_lo) & (z_lo < z_hi) & (b > 2.0 * c * z_lo)
            return z, x, live & (z > z_lo) & (z <= z_hi), lost.astype(jnp.int32)

        def fire(s: _Firing) -> _Firing:
            """Record the spikes in ``s.firing``, reset, and look for the next crossing."""
            t_spike = jnp.clip(t_lo + tau_mem * jnp.log(s.z), t_lo, t_hi)
            slot = jnp.where(s.firing & (s.count < k_slots), s.count, k_slots)
            update = jnp.stack([t_spike, s.x, jnp.full_like(s.x, m.astype(dtype))], axis=-1)
            record = s.record.at[neuron, slot].set(update, mode="drop")
            b = jnp.where(s.firing, s.b - kappa * s.z, s.b)
            count = s.count + s.firing.astype(jnp.int32)
            z, x, firing, lost = crossing(b, jnp.where(s.firing, s.z, jnp.inf), count)
            return _Firing(b, count, record, z, x, firing, s.unresolved + lost)

        z, x, firing, lost = crossing(b, 1.0, carry.count)
        fired = jax.lax.while_loop(
            lambda s: jnp.any(s.firing),
            fire,
            _Firing(b, carry.count, carry.record, z, x, firing, carry.unresolved + lost),
        )
        return _Carry(m + 1, a, fired.b, fired.count, fired.record, fired.unresolved)

    zeros = jnp.zeros((batch, n_out), dtype)
    empty = jnp.array([jnp.inf, 1.0, -1.0], dtype)
    init = _Carry(
        m=jnp.zeros((), jnp.int32),
        a=zeros,
        b=zeros,
        count=jnp.zeros((batch, n_out), jnp.int32),
        record=jnp.broadcast_to(empty, (batch * n_out, k_slots, 3)),
        unresolved=jnp.zeros((batch, n_out), jnp.int32),
    )
    final = jax.lax.while_loop(lambda cr: cr.m < n_steps, step, init)
    record = final.record.reshape(batch, n_out, k_slots, 3)
    index = record[..., 2].astype(jnp.int32)
    return make_event_forward(
        event_times, record[..., 0], record[..., 1], index, final.count, final.unresolved
    )


# ----------------------------------------------------------------------------- backward


class _Absorb(NamedTuple):
    """State of the inner loop that adds the spikes caused last by event ``m`` to U, V."""

    u: jax.Array  # [B, N] running sum, tau_syn part (frame of event m)
    v: jax.Array  # [B, N] running sum, tau_mem part
    pointer: jax.Array  # [B, N] int32 next stored spike to absorb (-1: none left)
    nxt: jax.Array  # [B, N, 3] that spike: (last causal event, dL/da, dL/db)
    m: jax.Array  # scalar, the event index (in the dtype of nxt)


class _Reverse(NamedTuple):
    """State of the reverse loop over the events."""

    m: jax.Array  # scalar int32 event index (counts down; -1 = done)
    u: jax.Array  # [B, N]
    v: jax.Array  # [B, N]
    pointer: jax.Array  # [B, N] int32
    nxt: jax.Array  # [B, N, 3]
    d_weights: jax.Array  # [n_in, N]
    d_times: jax.Array  # [B, E]


def backward_events(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    forward: EventForward,
    cot_times: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Exact ``dL/d event_times`` and ``dL/d weights`` given ``dL/d spike_times`` (SPEC §4).

    Args:
      events, weights, params: as in :func:`forward_events`.
      forward: its result.
      cot_times: ``[B, N, K]`` ``dL/dt`` of every slot (ignored on empty slots).

    Returns:
      ``(d_event_times [B, E], d_weights [n_in, N])``.
    """
    event_times, event_source = events
    max_spikes = forward.times.shape[-1]
    batch, n_events = event_times.shape
    if n_events == 0:  # (static) no events: nothing depends on the weights
        return jnp.zeros_like(event_times), jnp.zeros_like(weights)
    _check_event_index_exact(n_events, weights.dtype)
    n_out = weights.shape[1]
    dtype = weights.dtype
    tau_syn_n = _per_neuron(params.tau_syn)
    tau_mem_n = 2.0 * tau_syn_n
    tau_mem_k = tau_mem_n if jnp.ndim(tau_mem_n) == 0 else tau_mem_n[..., None]
    kappa = params.delta_theta / (2.0 * params.tau_syn)
    errors, z = spike_errors(
        cot_times, forward.times, forward.slope, forward.frame_time, 2.0 * params.tau_syn, kappa
    )
    # Per stored spike: (last causal event, dL/da, dL/db) in the frame of that event.
    spikes = jnp.stack(
        [
            forward.event_index.astype(dtype),
            errors * tau_mem_k / (z * forward.slope),
            -errors * tau_mem_k / forward.slope,
        ],
        axis=-1,
    )
    n_stored = jnp.minimum(forward.n_spikes, max_spikes)
    spikes = spikes.reshape(batch * n_out, max_spikes, 3)
    neuron = jnp.arange(batch * n_out).reshape(batch, n_out)
    padded_times = jnp.concatenate([event_times, jnp.full((batch, 1), jnp.inf, dtype)], axis=1)

    def spike_at(pointer):
        """``[B, N, 3]`` spike ``pointer`` of each neuron; event index -1 when exhausted."""
        got = spikes[neuron, jnp.maximum(pointer, 0)]
        return jnp.where((pointer >= 0)[..., None], got, jnp.array([-1.0, 0.0, 0.0], dtype))

    def absorb(s: _Absorb) -> _Absorb:
        hit = s.nxt[..., 0] == s.m
        pointer = s.pointer - hit.astype(jnp.int32)
        return _Absorb(
            u=s.u + jnp.where(hit, s.nxt[..., 1], 0.0),
            v=s.v + jnp.where(hit, s.nxt[..., 2], 0.0),
            pointer=pointer,
            nxt=spike_at(pointer),
            m=s.m,
        )

    def step(s: _Reverse) -> _Reverse:
        m = s.m
        t_m = padded_times[:, m]
        t_next = padded_times[:, m + 1]
        both = jnp.isfinite(t_m) & jnp.isfinite(t_next)
        dt = jnp.where(both, t_next - t_m, 0.0)[:, None]
        # Move the running sums from the frame of t_{m+1} to the frame of t_m.
        u = s.u * jnp.exp(-dt / tau_syn_n)
        v = s.v * jnp.exp(-dt / tau_mem_n)
        # (m >= 0: under vmap, finished lanes keep stepping with m = -1, which must not match
        # the -1 "no spike left" marker.)
        ab = jax.lax.while_loop(
            lambda a: jnp.any(a.nxt[..., 0] == a.m) & (m >= 0),
            absorb,
            _Absorb(u=u, v=v, pointer=s.pointer, nxt=s.nxt, m=m.astype(dtype)),
        )
        src = event_source[:, m]
        valid = jnp.isfinite(t_m)[:, None]
        d_weights = s.d_weights.at[src].add(jnp.where(valid, ab.u + ab.v, 0.0))
        g_t = jnp.sum(
            jnp.where(valid, weights[src] * (ab.u / tau_syn_n + ab.v / tau_mem_n), 0.0), axis=1
        )
        return _Reverse(
            m=m - 1,
            u=ab.u,
            v=ab.v,
            pointer=ab.pointer,
            nxt=ab.nxt,
            d_weights=d_weights,
            d_times=s.d_times.at[:, m].set(g_t),
        )

    zeros = jnp.zeros((batch, n_out), dtype)
    pointer = n_stored - 1
    init = _Reverse(
        m=forward.n_steps - 1,
        u=zeros,
        v=zeros,
        pointer=pointer,
        nxt=spike_at(pointer),
        d_weights=jnp.zeros_like(weights),
        d_times=jnp.zeros_like(event_times),
    )
    final = jax.lax.while_loop(lambda s: s.m >= 0, step, init)
    return final.d_times, final.d_weights


BACKEND = EventBackend(
    name="loop", sort_events=sort_events, forward=forward_events, backward=backward_events
)
