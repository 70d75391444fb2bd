"""Exact gradients of LIF spike times (SPEC §4) as a ``jax.custom_vjp``.

The derivatives hold the set of causal events fixed (spike times are piecewise smooth in
weights and input times; the gradient is exact wherever no spike appears or vanishes).
For spike ``k`` of a neuron, in the frame of its last causal input (``z = exp((t_k -
t_frame) / tau_mem)``, ``x`` the slope term of :func:`snnjax.lif.crossing_z`):

* ``f1 = dt_k/da = tau_mem / (z x)`` and ``f2 = -dt_k/db = tau_mem / x``;
* errors through the resets of earlier spikes of the same neuron, in O(K) with one running
  sum: ``E_k = e_k + z_k sum_{n>k} kappa E_n / x_n`` (frames converted on the way);
* ``dL/dw_j = sum_k [f1 E_k exp((t_j - t_f)/tau_syn) - f2 E_k exp((t_j - t_f)/tau_mem)]`` over
  the spikes for which input event ``j`` is causal, accumulated backwards over the events
  with decaying running sums ``U`` (``tau_syn`` part) and ``V`` (``tau_mem`` part), so that
  nothing of size ``batch x events x neurons`` is materialised;
* ``dL/dt_j = sum_i w_ji (U_ji / tau_syn + V_ji / tau_mem)``.

Gradients with respect to the physical parameters (``tau_syn``, ``theta``,
``delta_theta``) and ``t_max`` are not computed: they are returned as zeros.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from snnjax import cpu_kernel
from snnjax.kernel import EventForward, forward_events, make_event_forward

__all__ = ["event_spike_times"]


@partial(jax.custom_vjp, nondiff_argnums=(7, 8))
def event_spike_times(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
                      max_spikes, compiled=False):
    """Differentiable spike times of a layer driven by sorted events.

    Args:
      event_times: ``[B, E]`` sorted input event times (s), ``inf`` padded, ``< t_max``.
      event_source: ``[B, E]`` int32 presynaptic neuron of each event.
      weights: ``[n_in, N]``.
      tau_syn, theta, delta_theta, t_max: scalars (or ``[N]`` for the first three).
      max_spikes: static buffer size ``K``.
      compiled: static; use the compiled CPU kernel (:mod:`snnjax.cpu_kernel`) instead of the
        pure-JAX loops. Decide with :func:`snnjax.cpu_kernel.use_cpu_kernel`.

    Returns:
      ``(times [B, N, K], n_spikes [B, N] int32)``; ``times`` carries exact gradients with
      respect to ``event_times`` and ``weights``.
    """
    out = _forward(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
                   max_spikes, compiled)
    return out.times, out.n_spikes


def _forward(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
             max_spikes, compiled) -> EventForward:
    """The forward event loop: compiled C++ (:mod:`snnjax.cpu_kernel`) or pure JAX."""
    if compiled:
        times, slope, event_index, n_spikes = cpu_kernel.forward(
            event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, max_spikes)
        return make_event_forward(event_times, times, slope, event_index, n_spikes)
    return forward_events(event_times, event_source, weights, tau_syn, theta, delta_theta,
                          t_max, max_spikes)


def _fwd(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, max_spikes,
         compiled):
    out = _forward(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
                   max_spikes, compiled)
    residuals = (event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, out)
    return (out.times, out.n_spikes), residuals


def spike_errors(cot_times, times, slope, frame_time, tau_mem, kappa):
    """Total errors ``E_k`` of the stored spikes, including the paths through resets.

    Args:
      cot_times: ``[B, N, K]`` ``dL/dt_k`` delivered from above.
      times, slope, frame_time: ``[B, N, K]`` from :class:`snnjax.kernel.EventForward`.
      tau_mem, kappa: scalars or ``[N]`` (``kappa = delta_theta / tau_mem``).

    Returns:
      ``(E [B, N, K], z [B, N, K])`` with ``E = 0`` on empty slots and ``z`` the spike's
      ``exp((t_k - t_frame)/tau_mem)`` (``1`` on empty slots).
    """
    valid = jnp.isfinite(times)
    tau_mem = jnp.asarray(tau_mem)[..., None] if jnp.ndim(tau_mem) else tau_mem
    kappa = jnp.asarray(kappa)[..., None] if jnp.ndim(kappa) else kappa
    z = jnp.where(valid, jnp.exp(jnp.where(valid, times - frame_time, 0.0) / tau_mem), 1.0)
    e = jnp.where(valid, cot_times, 0.0)
    kap = jnp.broadcast_to(kappa, times.shape)
    tm = jnp.broadcast_to(tau_mem, times.shape)

    def step(carry, xs):
        s, t_frame_next = carry          # s in the frame of t_frame_next
        e_k, z_k, x_k, tf_k, ok, kap_k, tm_k = xs
        # Frames are event times, non-decreasing in k: the factor is a decay (<= 1).
        shift = jnp.where(ok & jnp.isfinite(t_frame_next), tf_k - t_frame_next, 0.0)
        s_k = s * jnp.exp(shift / tm_k)
        err = jnp.where(ok, e_k + z_k * s_k, 0.0)
        s_new = jnp.where(ok, s_k + kap_k * err / x_k, s)
        tf_new = jnp.where(ok, tf_k, t_frame_next)
        return (s_new, tf_new), err

    moved = [jnp.moveaxis(v, -1, 0) for v in (e, z, slope, frame_time, valid, kap, tm)]
    init = (jnp.zeros(times.shape[:-1], times.dtype),
            jnp.full(times.shape[:-1], jnp.inf, times.dtype))
    _, errors = jax.lax.scan(step, init, moved, reverse=True)
    return jnp.moveaxis(errors, 0, -1), z


def _bwd(max_spikes, compiled, residuals, cotangents):
    event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, out = residuals
    cot_times, _ = cotangents
    zero = jax.tree_util.tree_map(jnp.zeros_like, (tau_syn, theta, delta_theta, t_max))
    if compiled:
        d_weights, d_times = cpu_kernel.backward(
            event_times, event_source, weights, tau_syn, delta_theta, cot_times, out.times,
            out.slope, out.event_index, out.n_spikes)
        return (d_times, None, d_weights) + zero
    batch, _ = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    tau_syn_n = tau_syn if jnp.ndim(tau_syn) == 0 else jnp.asarray(tau_syn)[None, :]
    tau_mem_n = 2.0 * tau_syn_n
    tau_mem_k = tau_mem_n if jnp.ndim(tau_mem_n) == 0 else tau_mem_n[..., None]
    kappa = delta_theta / (2.0 * tau_syn)
    errors, z = spike_errors(cot_times, out.times, out.slope, out.frame_time, 2.0 * tau_syn,
                             kappa)
    # Per stored spike: (last causal event, dL/da, dL/db) in the frame of that event.
    spikes = jnp.stack([out.event_index.astype(dtype), errors * tau_mem_k / (z * out.slope),
                        -errors * tau_mem_k / out.slope], axis=-1)
    n_stored = jnp.minimum(out.n_spikes, max_spikes)
    spikes = spikes.reshape(batch * n_out, max_spikes, 3)
    neuron = jnp.arange(batch * n_out).reshape(batch, n_out)
    padded_times = jnp.concatenate([event_times, jnp.full((batch, 1), jnp.inf, dtype)], axis=1)

    def spike_at(pointer):
        """``[B, N, 3]`` spike ``pointer`` of each neuron; event index -1 when exhausted."""
        got = spikes[neuron, jnp.maximum(pointer, 0)]
        return jnp.where((pointer >= 0)[..., None], got, jnp.array([-1.0, 0.0, 0.0], dtype))

    def absorb(state):
        u, v, pointer, nxt, m = state
        hit = nxt[..., 0] == m
        u = u + jnp.where(hit, nxt[..., 1], 0.0)
        v = v + jnp.where(hit, nxt[..., 2], 0.0)
        pointer = pointer - hit.astype(jnp.int32)
        return u, v, pointer, spike_at(pointer), m

    def step(state):
        m, u, v, pointer, nxt, d_weights, d_times = state
        t_m = padded_times[:, m]
        t_next = padded_times[:, m + 1]
        both = jnp.isfinite(t_m) & jnp.isfinite(t_next)
        dt = jnp.where(both, t_next - t_m, 0.0)[:, None]
        # Move the running sums from the frame of t_{m+1} to the frame of t_m.
        u = u * jnp.exp(-dt / tau_syn_n)
        v = v * jnp.exp(-dt / tau_mem_n)
        # (m >= 0: under vmap, finished lanes keep stepping with m = -1, which must not match
        # the -1 "no spike left" marker.)
        u, v, pointer, nxt, _ = jax.lax.while_loop(
            lambda s: jnp.any(s[3][..., 0] == s[4]) & (m >= 0), absorb,
            (u, v, pointer, nxt, m.astype(dtype)))
        src = event_source[:, m]
        valid = jnp.isfinite(t_m)[:, None]
        d_weights = d_weights.at[src].add(jnp.where(valid, u + v, 0.0))
        g_t = jnp.sum(jnp.where(valid, weights[src] * (u / tau_syn_n + v / tau_mem_n), 0.0),
                      axis=1)
        d_times = d_times.at[:, m].set(g_t)
        return m - 1, u, v, pointer, nxt, d_weights, d_times

    zeros = jnp.zeros((batch, n_out), dtype)
    pointer = n_stored - 1
    init = (out.n_steps - 1, zeros, zeros, pointer, spike_at(pointer),
            jnp.zeros_like(weights), jnp.zeros_like(event_times))
    *_, d_weights, d_times = jax.lax.while_loop(lambda s: s[0] >= 0, step, init)
    return (d_times, None, d_weights) + zero


event_spike_times.defvjp(_fwd, _bwd)
