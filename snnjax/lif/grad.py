"""Exact gradients of LIF spike times (SPEC §4): the ``jax.custom_vjp`` over an event backend.

The derivatives hold the set of causal events fixed (spike times are piecewise smooth in
weights and input times; the gradient is exact wherever no spike appears or vanishes).
For spike ``k`` of a neuron, in the frame of its last causal input (``z = exp((t_k -
t_frame) / tau_mem)``, ``x`` the slope term of :func:`snnjax.lif.crossing_z`):

* ``f1 = dt_k/da = tau_mem / (z x)`` and ``f2 = -dt_k/db = tau_mem / x``;
* errors through the resets of earlier spikes of the same neuron, a linear recurrence over
  the ``K`` slots: ``E_k = e_k + z_k sum_{n>k} kappa E_n / x_n`` (frames converted on the
  way; :func:`spike_errors`, a parallel scan of depth ``log2 K``);
* ``dL/dw_j = sum_k [f1 E_k exp((t_j - t_f)/tau_syn) - f2 E_k exp((t_j - t_f)/tau_mem)]`` over
  the spikes for which input event ``j`` is causal, accumulated backwards over the events
  with decaying running sums ``U`` (``tau_syn`` part) and ``V`` (``tau_mem`` part), so that
  nothing of size ``batch x events x neurons`` is materialised;
* ``dL/dt_j = sum_i w_ji (U_ji / tau_syn + V_ji / tau_mem)``.

The forward and backward passes themselves are the backend's
(:class:`snnjax.lif.backends.EventBackend`); :func:`event_spike_times` ties them together.
Gradients with respect to the physical parameters (``tau_syn``, ``theta``,
``delta_theta``) and ``t_max`` are not computed: they are returned as zeros.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from snnjax.lif.events import Events
from snnjax.lif.forward import EventForward
from snnjax.lif.params import LIFParams

if TYPE_CHECKING:
    from snnjax.lif.backends import EventBackend

__all__ = ["SpikeTimeResiduals", "event_spike_times", "spike_errors"]


class SpikeTimeResiduals(NamedTuple):
    """What the backward pass of :func:`event_spike_times` keeps from the forward."""

    events: Events
    weights: jax.Array
    params: LIFParams
    t_max: jax.Array
    forward: EventForward


def event_spike_times(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    t_max: jax.Array,
    max_spikes: int,
    backend: EventBackend,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Differentiable spike times of a layer driven by sorted events.

    Uses the backend's own :attr:`~snnjax.lif.backends.EventBackend.spike_times` where it
    has one (e.g. ``"ffi"``, whose gradient batches under ``vmap``), else the generic
    ``custom_vjp`` of its ``forward`` and ``backward`` passes.

    Args:
      events: ``[B, E]`` sorted input :class:`~snnjax.lif.events.Events`, all ``< t_max``.
      weights: ``[n_in, N]``.
      params: :class:`~snnjax.lif.LIFParams` of ``weights.dtype`` (scalars or ``[N]``).
      t_max: scalar end of the simulation (s).
      max_spikes: static buffer size ``K``.
      backend: static :class:`~snnjax.lif.backends.EventBackend` that runs the forward and
        backward passes (see :func:`snnjax.lif.backends.resolve_backend`).

    Returns:
      ``(times [B, N, K], n_spikes [B, N] int32, n_unresolved [B, N] int32)`` (see
      :class:`~snnjax.lif.forward.EventForward`); ``times`` carries exact gradients with
      respect to ``events.times`` and ``weights``.
    """
    if backend.spike_times is not None:
        return backend.spike_times(events, weights, params, t_max, max_spikes)
    return _custom_vjp_spike_times(events, weights, params, t_max, max_spikes, backend)


@partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def _custom_vjp_spike_times(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    t_max: jax.Array,
    max_spikes: int,
    backend: EventBackend,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The generic ``custom_vjp`` of :func:`event_spike_times` (same arguments)."""
    out = backend.forward(events, weights, params, t_max, max_spikes)
    return out.times, out.n_spikes, out.n_unresolved


def _fwd(events, weights, params, t_max, max_spikes, backend):
    out = backend.forward(events, weights, params, t_max, max_spikes)
    residuals = SpikeTimeResiduals(
        events=events, weights=weights, params=params, t_max=t_max, forward=out
    )
    return (out.times, out.n_spikes, out.n_unresolved), residuals


def _bwd(max_spikes, backend, residuals: SpikeTimeResiduals, cotangents):
    del max_spikes
    cot_times = cotangents[0]
    r = residuals
    d_event_times, d_weights = backend.backward(r.events, r.weights, r.params, r.forward, cot_times)
    zeros = partial(jax.tree_util.tree_map, jnp.zeros_like)
    return (Events(times=d_event_times, source=None), d_weights, zeros(r.params), zeros(r.t_max))


_custom_vjp_spike_times.defvjp(_fwd, _bwd)


def _compose(first, second):
    """Compose ``s -> a1 s + b1`` then ``s -> a2 s + b2`` (the combination of the parallel
    scan of :func:`spike_errors`). A product of factors beyond the float range saturates at
    the largest finite value, so that a factor applied to a zero sum stays zero (never
    ``0 * inf``)."""
    a1, b1 = first
    a2, b2 = second
    return jnp.minimum(a1 * a2, jnp.finfo(a1.dtype).max), b1 * a2 + b2


def _next_valid(valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(index [..., K] int32, found [..., K])`` of the first valid slot after each slot."""
    k_slots = valid.shape[-1]
    slot = jnp.arange(k_slots, dtype=jnp.int32)
    own = jnp.where(valid, slot, k_slots)
    later = jnp.concatenate(
        [own[..., 1:], jnp.full(own.shape[:-1] + (1,), k_slots, jnp.int32)], axis=-1
    )
    nxt = jax.lax.cummin(later, axis=later.ndim - 1, reverse=True)
    return jnp.minimum(nxt, k_slots - 1), nxt < k_slots


def spike_errors(
    cot_times: ArrayLike,
    times: ArrayLike,
    slope: ArrayLike,
    frame_time: ArrayLike,
    tau_mem: ArrayLike,
    kappa: ArrayLike,
) -> tuple[jax.Array, jax.Array]:
    """Total errors ``E_k`` of the stored spikes, including the paths through resets.

    ``E_k = e_k + z_k S_k`` with ``S_k = sum_{n>k} kappa E_n / x_n`` (in the frame of spike
    ``k``): backwards over the slots, ``S`` after folding spike ``k`` in is ``s_k = d_k s_{k'}
    (1 + kappa z_k / x_k) + kappa e_k / x_k`` (``k'`` the next stored spike, ``d_k =
    exp((t_frame_k - t_frame_k') / tau_mem) <= 1`` the frame change; empty slots pass ``s``
    through). A linear recurrence, so it is one :func:`jax.lax.associative_scan` over the
    ``K`` slots (depth ``log2 K``, no sequential loop: this runs on every backend's
    backward, and a ``K``-trip scan was a third of the ``"parallel"`` backend's sequential
    steps); it equals the sequential recursion to rounding (the sums are associated
    differently). Products of the reset factors ``1 + kappa z / x`` beyond the float range
    saturate instead of overflowing (only grazing spikes, ``x ~ 0``, come near it).

    Args:
      cot_times: ``[B, N, K]`` ``dL/dt_k`` delivered from above.
      times, slope, frame_time: ``[B, N, K]`` from :class:`snnjax.lif.forward.EventForward`
        (the frames non-decreasing over the stored spikes of a neuron).
      tau_mem, kappa: scalars or ``[N]`` (``kappa = delta_theta / tau_mem``).

    Returns:
      ``(E [B, N, K], z [B, N, K])`` with ``E = 0`` on empty slots and ``z`` the spike's
      ``exp((t_k - t_frame)/tau_mem)`` (``1`` on empty slots).
    """
    times = jnp.asarray(times)
    frame_time = jnp.asarray(frame_time)
    valid = jnp.isfinite(times)
    tau_mem = jnp.asarray(tau_mem)[..., None] if jnp.ndim(tau_mem) else tau_mem
    kappa = jnp.asarray(kappa)[..., None] if jnp.ndim(kappa) else kappa
    z = jnp.where(valid, jnp.exp(jnp.where(valid, times - frame_time, 0.0) / tau_mem), 1.0)
    e = jnp.where(valid, cot_times, 0.0)
    nxt, has_next = _next_valid(valid)
    frame_next = jnp.take_along_axis(frame_time, nxt, axis=-1)
    # Frames are event times, non-decreasing in k: the factor is a decay (<= 1).
    shift = jnp.where(valid & has_next, frame_time - frame_next, 0.0)
    decay = jnp.exp(shift / tau_mem)
    kx = jnp.where(valid, kappa / slope, 0.0)
    factor = jnp.where(valid, decay * (1.0 + z * kx), 1.0)
    _, s = jax.lax.associative_scan(_compose, (factor, kx * e), axis=times.ndim - 1, reverse=True)
    s_next = jnp.concatenate([s[..., 1:], jnp.zeros_like(s[..., :1])], axis=-1)
    errors = jnp.where(valid, e + z * (decay * s_next), 0.0)
    return errors, z
