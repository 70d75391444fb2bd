"""Forward pass of the ``"parallel"`` backend: spike times by threshold queries (DESIGN.md).

For every sample, neuron and input event ``m`` (all at once):

* ``a_m``, ``b_m`` (SPEC §2, without resets) in the frame of event ``m``, as sums with
  exponential kernels (:func:`exp_sum`: blocked matmuls; every factor is a
  decay ``<= 1``, so nothing overflows however long the simulation);
* the largest accumulated reset ``R*_m`` (in ``b`` units, frame of event ``m``) for which
  the potential still reaches ``theta`` in interval ``m`` = ``(t_m, min(t_{m+1}, t_max)]``:
  ``R*_m = b_m - min_{z in [1, z_hi]} (a_m / z + c z)``, stored as ``L_m = log R*_m`` (NaN
  where the potential cannot reach ``theta``).

Then rounds, sequential only in the spikes of a neuron: a neuron whose accumulated reset is
``R`` in the frame of time ``t_ref`` fires next in the first interval ``m`` (at or after its
last spike's) with ``L_m + (t_m - t_ref) / tau_mem >= log R`` (the comparison of ``R*_m``
with ``R`` decayed to ``t_m``, frame-independent). Each round re-checks the interval of the
neuron's last spike from the spike on (several spikes between two inputs), else searches
the later intervals, and solves the crossing there in closed form with exactly the
acceptance rules of the ``"loop"`` backend (``n_unresolved``, the ``t_max`` cut-off), except
that a crossing the query found but that rounds past the next input event is clamped to
that event instead of lost. The rounds go on (a ``while_loop``) until no neuron finds a
further crossing, so spikes beyond the ``K`` buffer slots are counted exactly: the number
of rounds is the most spikes of any neuron + 1 (plus one per rare rejected candidate).
A ``while_loop`` rather than a ``fori_loop`` of ``K + 1`` rounds: a fixed ``K + 1`` would
stop counting at the buffer (``n_spikes`` must count every spike, as the other backends
do), and it would run ``K + 1`` rounds when the busiest neuron fires far fewer; the price
is one scalar read back per round on accelerators.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from snnjax.lif.backends.parallel.scan import decaying_sum, exp_kernel_sum
from snnjax.lif.crossing import crossing_z

__all__ = ["ChunkForward", "exp_sum", "forward_chunk", "intervals", "table"]


class ChunkForward(NamedTuple):
    """Forward result of one chunk of ``n`` neurons (``[B, n, K]`` slots)."""

    times: jax.Array
    slope: jax.Array
    event_index: jax.Array  # int32, -1 = empty slot
    n_spikes: jax.Array  # [B, n] int32
    n_unresolved: jax.Array  # [B, n] int32
    rounds: jax.Array  # scalar int32: sequential rounds run


class _Table(NamedTuple):
    """Per (sample, neuron, event) quantities, computed once (``[B, n, E]``)."""

    a: jax.Array
    b: jax.Array  # without resets
    log_r_star: jax.Array  # NaN where the interval cannot reach theta


class _Intervals(NamedTuple):
    """Per (sample, event) interval bounds ``(t_lo, t_hi]`` (``[B, E]``)."""

    t_lo: jax.Array
    t_hi: jax.Array
    open_: jax.Array  # bool: valid event and t_hi > t_lo
    ends_at_event: jax.Array  # bool: t_hi is the next input event (not t_max)


class _State(NamedTuple):
    """Per-neuron state between rounds (``[B, n]``) and the spike record (``[B, n, K]``)."""

    active: jax.Array  # bool: still looking for crossings
    recheck: jax.Array  # bool: re-check interval m_own from z_own first
    m: jax.Array  # int32: interval of the last spike (recheck) or the first to search
    z_own: jax.Array  # z of the last spike in the frame of interval m
    b_own: jax.Array  # b of interval m after its spikes (reset by each, as the loop does)
    t_ref: jax.Array  # frame of the accumulated reset
    reset: jax.Array  # accumulated reset R (b units, frame t_ref)
    count: jax.Array  # int32 spikes so far
    unresolved: jax.Array  # int32
    times: jax.Array
    slope: jax.Array
    index: jax.Array
    rounds: jax.Array


def intervals(event_times: jax.Array, t_max: jax.Array) -> _Intervals:
    """The interval after each event: ``(t_m, min(t_{m+1}, t_max)]`` (empty when the next
    event is simultaneous; padding events have none)."""
    inf = jnp.full(event_times.shape[:1] + (1,), jnp.inf, event_times.dtype)
    nxt = jnp.concatenate([event_times[:, 1:], inf], axis=1)
    valid = jnp.isfinite(event_times)
    t_lo = jnp.where(valid, event_times, 0.0)
    t_hi = jnp.where(valid, jnp.minimum(nxt, t_max), t_lo)
    return _Intervals(t_lo, t_hi, valid & (t_hi > t_lo), nxt < t_max)


def _min_barrier(a, c, z_lo, z_hi):
    """``min over z in [z_lo, z_hi] of a / z + c z`` (convex for ``a > 0``, increasing
    otherwise)."""
    z = jnp.clip(jnp.sqrt(jnp.maximum(a, 0.0) / c), z_lo, z_hi)
    return a / z + c * z


def exp_sum(event_times, x, tau, *, reverse: bool = False) -> jax.Array:
    """``sum_j x_j exp(-|t_m - t_j| / tau)`` over the events ``j`` at or before ``m``
    (``reverse``: at or after), ``[B, n, E]``: blocked matmuls for a shared ``tau``
    (:func:`~snnjax.lif.backends.parallel.scan.exp_kernel_sum`), a parallel scan of the
    decays for per-neuron ``tau`` (``[1, n, 1]``)."""
    if jnp.ndim(tau) == 0:
        return exp_kernel_sum(event_times, x, tau, reverse=reverse)
    valid = jnp.isfinite(event_times)
    if reverse:
        other = jnp.concatenate([event_times[:, 1:], event_times[:, -1:]], axis=1)
        gap = jnp.where(valid & jnp.isfinite(other), other - event_times, 0.0)
    else:
        other = jnp.concatenate([event_times[:, :1], event_times[:, :-1]], axis=1)
        gap = jnp.where(valid, event_times - other, 0.0)
    return decaying_sum(jnp.exp(-gap[:, None, :] / tau), x, axis=2, reverse=reverse)


def table(event_times, event_w, tau_syn, c, iv: _Intervals) -> _Table:
    """``a``, ``b`` and ``log R*`` for every (sample, neuron, event).

    Args:
      event_times: ``[B, E]``; event_w: ``[B, n, E]`` weight of each event to each neuron
        (0 on padding); tau_syn, c: scalars or ``[1, n, 1]``; iv: :func:`intervals`.
    """
    tau_mem = 2.0 * tau_syn
    a = exp_sum(event_times, event_w, tau_syn)
    b = exp_sum(event_times, event_w, tau_mem)
    z_hi = jnp.exp((iv.t_hi - iv.t_lo)[:, None, :] / tau_mem)
    r_star = b - _min_barrier(a, c, 1.0, z_hi)
    reach = iv.open_[:, None, :] & (r_star >= 0)
    log_r_star = jnp.where(reach, jnp.log(jnp.where(reach, r_star, 1.0)), jnp.nan)
    return _Table(a, b, log_r_star)


class _Layer(NamedTuple):
    """What every round reads: the table, the intervals and the neuron constants."""

    tab: _Table
    iv: _Intervals
    c: jax.Array  # [1, n] or scalar: theta / tau_mem
    kappa: jax.Array  # delta_theta / tau_mem
    tau_mem: jax.Array  # [1, n] or scalar


class _Solved(NamedTuple):
    """The crossing in one interval per neuron (``[B, n]``)."""

    spike: jax.Array
    lost: jax.Array
    z: jax.Array
    x: jax.Array
    t: jax.Array
    b_next: jax.Array  # b after this spike's reset


def _at(x: jax.Array, m: jax.Array) -> jax.Array:
    """``x[b, n, m[b, n]]`` (``x`` ``[B, n, E]``) or ``x[b, m[b, n]]`` (``x`` ``[B, E]``)."""
    if x.ndim == 2:
        return jnp.take_along_axis(x, m, axis=1)
    return jnp.take_along_axis(x, m[..., None], axis=2)[..., 0]


def _b_after_resets(ly: _Layer, m: jax.Array, t_ref: jax.Array, reset: jax.Array):
    """``b`` of interval ``m`` with the accumulated reset (frame ``t_ref``) subtracted."""
    decay = jnp.exp(-jnp.where(reset > 0, _at(ly.iv.t_lo, m) - t_ref, 0.0) / ly.tau_mem)
    return _at(ly.tab.b, m) - reset * decay


def _solve(ly: _Layer, m: jax.Array, z_lo, b: jax.Array) -> _Solved:
    """Closed-form crossing in interval ``m`` after ``z_lo`` given its ``b`` (resets
    applied); the acceptance rules of the ``"loop"`` backend, plus the clamp of a
    query-found crossing that rounds past the next input event."""
    m = jnp.minimum(m, ly.tab.a.shape[2] - 1)
    t_lo, t_hi = _at(ly.iv.t_lo, m), _at(ly.iv.t_hi, m)
    a = _at(ly.tab.a, m)
    z_hi = jnp.exp((t_hi - t_lo) / ly.tau_mem)
    z, x, ok = crossing_z(a, b, ly.c)
    after = z > z_lo
    reaches = _at(ly.iv.ends_at_event, m) & (b - _min_barrier(a, ly.c, z_lo, z_hi) >= 0)
    spike = ok & after & ((z <= z_hi) | reaches)
    lost = ok & ~after & (z_lo < z_hi) & (b > 2.0 * ly.c * z_lo)
    z = jnp.minimum(z, z_hi)
    t = jnp.clip(t_lo + ly.tau_mem * jnp.log(z), t_lo, t_hi)
    return _Solved(spike, lost, z, x, t, b - ly.kappa * z)


def _search(ly: _Layer, start: jax.Array, t_ref: jax.Array, reset: jax.Array):
    """First interval ``m >= start`` whose ``R*_m`` is at least the reset decayed to it:
    ``(m [B, n] int32, found [B, n] bool)``."""
    n_events = ly.tab.a.shape[2]
    index = jnp.arange(n_events, dtype=jnp.int32)
    shift = (ly.iv.t_lo[:, None, :] - t_ref[..., None]) / ly.tau_mem[..., None]
    query = ly.tab.log_r_star + shift >= jnp.log(reset)[..., None]
    first = jnp.min(jnp.where((index >= start[..., None]) & query, index, n_events), axis=2)
    return jnp.minimum(first, n_events - 1), first < n_events


def _record(s: _State, spike, sol: _Solved, m) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Write the spikes into slot ``count`` (dropped beyond the ``K`` slots)."""
    slots = jnp.arange(s.times.shape[2], dtype=jnp.int32)
    put = spike[..., None] & (slots == s.count[..., None])
    return (
        jnp.where(put, sol.t[..., None], s.times),
        jnp.where(put, sol.x[..., None], s.slope),
        jnp.where(put, m[..., None], s.index),
    )


def _pick(which, first: _Solved, second: _Solved) -> _Solved:
    return jax.tree_util.tree_map(lambda u, v: jnp.where(which, u, v), first, second)


def _round(ly: _Layer, count_limit: int, s: _State) -> _State:
    """One round: every active neuron finds (at most) its next spike."""
    own = _solve(ly, s.m, s.z_own, s.b_own)
    spike_own = s.active & s.recheck & own.spike
    start = jnp.where(s.recheck, s.m + 1, s.m)
    m_next, found = _search(ly, start, s.t_ref, s.reset)
    nxt = _solve(ly, m_next, 1.0, _b_after_resets(ly, m_next, s.t_ref, s.reset))
    tried = s.active & ~spike_own & found
    spike = spike_own | (tried & nxt.spike)
    m = jnp.where(spike_own, s.m, m_next)
    sol = _pick(spike_own, own, nxt)
    times, slope, index = _record(s, spike, sol, m)
    t_frame = _at(ly.iv.t_lo, m)
    decay = jnp.exp(-jnp.where(s.reset > 0, t_frame - s.t_ref, 0.0) / ly.tau_mem)
    lost = (s.active & s.recheck & own.lost) | (tried & ~nxt.spike & nxt.lost)
    count = s.count + spike.astype(jnp.int32)
    return _State(
        active=(spike | tried) & (count < count_limit),
        recheck=spike,
        m=jnp.where(spike, m, jnp.where(tried, m_next + 1, start)),
        z_own=jnp.where(spike, sol.z, s.z_own),
        b_own=jnp.where(spike, sol.b_next, s.b_own),
        t_ref=jnp.where(spike, t_frame, s.t_ref),
        reset=jnp.where(spike, s.reset * decay + ly.kappa * sol.z, s.reset),
        count=count,
        unresolved=s.unresolved + lost.astype(jnp.int32),
        times=times,
        slope=slope,
        index=index,
        rounds=s.rounds + 1,
    )


def _neuron_param(v, ndim: int):
    """A scalar or ``[n]`` parameter shaped to broadcast against ``[B, n, ...]``."""
    v = jnp.asarray(v)
    return v if v.ndim == 0 else v.reshape((1, -1) + (1,) * (ndim - 2))


def forward_chunk(
    events, weights, tau_syn, theta, delta_theta, t_max, max_spikes: int, count_limit: int
) -> ChunkForward:
    """Spike times of ``n`` neurons (one chunk) driven by sorted events.

    Args:
      events: ``[B, E]`` sorted :class:`~snnjax.lif.events.Events` (``E >= 1``).
      weights: ``[n_in, n]``; tau_syn, theta, delta_theta: scalars or ``[n]``.
      t_max: scalar; max_spikes: static ``K``; count_limit: static saturation count.
    """
    event_times, source = events
    dtype = weights.dtype
    valid = jnp.isfinite(event_times)
    event_w = jnp.where(valid[:, None, :], jnp.moveaxis(weights[source], 2, 1), 0.0)
    tau_mem3 = 2.0 * _neuron_param(tau_syn, 3)
    iv = intervals(event_times, t_max)
    tab = table(
        event_times, event_w, _neuron_param(tau_syn, 3), _neuron_param(theta, 3) / tau_mem3, iv
    )
    tau_mem = 2.0 * _neuron_param(tau_syn, 2)
    ly = _Layer(
        tab, iv, _neuron_param(theta, 2) / tau_mem, _neuron_param(delta_theta, 2) / tau_mem, tau_mem
    )
    shape = (event_times.shape[0], weights.shape[1])
    zeros = jnp.zeros(shape, jnp.int32)
    slots = shape + (max_spikes,)
    init = _State(
        active=jnp.ones(shape, bool),
        recheck=jnp.zeros(shape, bool),
        m=zeros,
        z_own=jnp.ones(shape, dtype),
        b_own=jnp.zeros(shape, dtype),
        t_ref=jnp.zeros(shape, dtype),
        reset=jnp.zeros(shape, dtype),
        count=zeros,
        unresolved=zeros,
        times=jnp.full(slots, jnp.inf, dtype),
        slope=jnp.ones(slots, dtype),
        index=jnp.full(slots, -1, jnp.int32),
        rounds=jnp.zeros((), jnp.int32),
    )
    out = jax.lax.while_loop(
        lambda s: jnp.any(s.active), lambda s: _round(ly, count_limit, s), init
    )
    return ChunkForward(out.times, out.slope, out.index, out.count, out.unresolved, out.rounds)
