"""Backward pass of the ``"parallel"`` backend: SPEC §4 without a sequential event loop.

Per neuron chunk (``[B, n, E]`` arrays):

1. the total error ``E_k`` of every stored spike through the resets of the later ones
   (:func:`snnjax.lif.grad.spike_errors`, a parallel scan over the ``K`` slots);
2. each spike's ``dL/da = E_k tau_mem / (z_k x_k)`` and ``dL/db = -E_k tau_mem / x_k`` (frame
   of its last causal event) added at that event (:func:`at_events`: summed over the
   spikes that share the event by a segmented scan over the slots, then one scatter to
   distinct targets, hence deterministic);
3. the running sums ``U`` (``tau_syn``) and ``V`` (``tau_mem``) of every event as reverse
   sums with exponential kernels (:func:`~snnjax.lif.backends.parallel.forward.exp_sum`:
   blocked matmuls or parallel scans, every factor a decay);
4. ``dL/dt_j = sum_i w_ji (U_ji / tau_syn + V_ji / tau_mem)`` with the weight rows gathered
   per event, and ``dL/dw_i = sum over the events j of source i of (U_j + V_j)`` by a
   deterministic segmented sum over the events sorted by source
   (:func:`~snnjax.lif.backends.parallel.scan.segment_totals`).

A grazing spike (slope ``x = 0`` exactly, the discriminant rounded to zero) gets
``x = sqrt(eps) * 2 c z``, the rounding resolution of ``x`` at the vertex ``b = 2 c z``: the
gradient there is huge but finite instead of infinite.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from snnjax.lif.backends.parallel.forward import _neuron_param, exp_sum
from snnjax.lif.backends.parallel.scan import run_totals, segment_totals
from snnjax.lif.grad import spike_errors

__all__ = ["at_events", "backward_chunk", "spike_partials"]


def spike_partials(cot, times, slope, frame_time, tau_syn, theta, delta_theta):
    """``(dL/da, dL/db)`` ``[B, n, K]`` of every stored spike in the frame of its last
    causal event, through the resets of the later spikes (zero on empty slots)."""
    tau_mem = 2.0 * jnp.asarray(tau_syn)
    kappa = jnp.asarray(delta_theta) / tau_mem
    tau_mem3 = _neuron_param(tau_mem, 3)
    c3 = _neuron_param(theta, 3) / tau_mem3
    valid = jnp.isfinite(times)
    z = jnp.where(valid, jnp.exp(jnp.where(valid, times - frame_time, 0.0) / tau_mem3), 1.0)
    floor = jnp.sqrt(jnp.finfo(slope.dtype).eps) * 2.0 * c3 * z
    x = jnp.where(slope > 0, slope, floor)
    errors, z = spike_errors(cot, times, x, frame_time, tau_mem, kappa)
    return errors * tau_mem3 / (z * x), -errors * tau_mem3 / x


def at_events(values: jax.Array, event_index: jax.Array, n_events: int) -> jax.Array:
    """``[B, n, E]``: the sum of ``values [B, n, K]`` of the slots whose event is ``m``.

    The event index of a neuron's spikes is non-decreasing over its slots (empty slots,
    ``-1``, last), so the slots that share an event are consecutive: their values are
    summed per run (:func:`~snnjax.lif.backends.parallel.scan.run_totals`, a segmented
    parallel scan over the ``K`` slots, depth ``log2 K``) and only the last slot of each
    run writes, in one scatter: within a neuron every target is distinct (the other slots
    write to the dropped index ``E``), so no two writes collide and the result does not
    depend on their order (bitwise reproducible, no atomics; no loop over the slots)."""
    batch, n_out, _ = values.shape
    totals, last = run_totals(values, event_index, axis=2)
    rows = jnp.arange(batch, dtype=jnp.int32)[:, None, None]
    cols = jnp.arange(n_out, dtype=jnp.int32)[None, :, None]
    target = jnp.where(last & (event_index >= 0), event_index, n_events)
    out = jnp.zeros((batch, n_out, n_events), values.dtype)
    return out.at[rows, cols, target].set(totals, mode="drop")


def backward_chunk(
    events, weights, tau_syn, theta, delta_theta, times, slope, frame_time, event_index, cot
):
    """``(d_weights [n_in, n], d_event_times [B, E])`` of one chunk of ``n`` neurons.

    Args:
      events: ``[B, E]`` sorted :class:`~snnjax.lif.events.Events` (``E >= 1``).
      weights: ``[n_in, n]``; tau_syn, theta, delta_theta: scalars or ``[n]``.
      times, slope, frame_time, event_index, cot: ``[B, n, K]`` (the forward's and the
        cotangent of the spike times).
    """
    event_times, source = events
    batch, n_events = event_times.shape
    d_a, d_b = spike_partials(cot, times, slope, frame_time, tau_syn, theta, delta_theta)
    valid = jnp.isfinite(event_times)
    tau_syn3 = _neuron_param(tau_syn, 3)
    u = exp_sum(event_times, at_events(d_a, event_index, n_events), tau_syn3, reverse=True)
    v = exp_sum(event_times, at_events(d_b, event_index, n_events), 2.0 * tau_syn3, reverse=True)
    event_w = weights[source]  # [B, E, n]
    drive = jnp.moveaxis(u / tau_syn3 + v / (2.0 * tau_syn3), 1, 2)
    d_times = jnp.where(valid, jnp.sum(event_w * drive, axis=2), 0.0)
    per_event = jnp.moveaxis(u + v, 1, 2).reshape(batch * n_events, -1)
    segment = jnp.where(valid, source, weights.shape[0]).reshape(-1)
    return segment_totals(per_event, segment, weights.shape[0]), d_times
