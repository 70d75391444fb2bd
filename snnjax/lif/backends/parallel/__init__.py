"""The ``"parallel"`` backend: parallel in time, sequential only in the spikes of a neuron.

The default of the automatic choice on GPU and TPU (selectable everywhere by name). The
``"loop"`` backend runs one ``while_loop`` iteration per input event and per spike; this
one computes everything per (sample, neuron, input event) at once:

* **forward** (:mod:`~snnjax.lif.backends.parallel.forward`): the exponential sums ``a``,
  ``b`` of every event (blocked matmuls, or parallel scans for a per-neuron ``tau_syn``),
  the largest reset ``R*_m`` each interval still reaches threshold with, then one *round*
  per spike: each neuron's next spike is the first interval whose ``R*_m`` exceeds its
  accumulated reset (a threshold query over all events at once), solved in closed form. The
  rounds are a ``while_loop`` that stops when no neuron finds a further crossing:
  **sequential depth = the most spikes of any neuron + 1** (spikes beyond the ``K`` slots
  are counted exactly, so a neuron with more than ``K`` spikes takes more rounds; the
  ``"loop"`` backend's counts and ``n_unresolved`` are reproduced). Depth per layer call =
  rounds summed over the neuron chunks.
* **backward** (:mod:`~snnjax.lif.backends.parallel.backward`): no sequential loop at
  all: parallel scans over the ``K`` slots (errors through the resets, the partials of
  the spikes that share an event), one scatter to distinct targets, reverse exponential
  sums over the events, and deterministic (sort + segmented scan) weight gradients:
  bitwise reproducible on every platform. A training step's only sequential loop is the
  forward's rounds.
* **memory**: the ``[B, n, E]`` intermediates are bounded by processing the neurons in
  chunks of ``n`` (:func:`~snnjax.lif.backends.parallel.chunks.neuron_chunk_size`) with
  ``lax.map``: no such array exceeds ``max_chunk_elements`` elements
  (:data:`~snnjax.lif.backends.parallel.chunks.MAX_CHUNK_ELEMENTS` by default; a backend
  with another budget: :func:`make_parallel_backend`). Chunks run one after the other.

Its work is proportional to the static event bound ``E`` (not to the events present), so
a tight ``max_input_events`` matters more than for the loop backends. On CPU it does more
total work than the event loops (no benefit from its small depth there).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from snnjax.lif.backends import EventBackend
from snnjax.lif.backends.parallel.backward import backward_chunk
from snnjax.lif.backends.parallel.chunks import (
    MAX_CHUNK_ELEMENTS,
    map_neuron_chunks,
    neuron_chunk_size,
)
from snnjax.lif.backends.parallel.forward import forward_chunk
from snnjax.lif.events import Events, sort_events
from snnjax.lif.forward import EventForward, make_event_forward
from snnjax.lif.params import LIFParams

__all__ = [
    "BACKEND",
    "MAX_CHUNK_ELEMENTS",
    "PLATFORMS",
    "SPIKE_COUNT_LIMIT",
    "backward_events",
    "forward_events",
    "forward_rounds",
    "make_parallel_backend",
]

SPIKE_COUNT_LIMIT = 2**31 - 1
"""Spike count at which a neuron stops being simulated (as in the ``"loop"`` backend)."""

PLATFORMS = ("cuda", "rocm", "tpu")
"""Where the automatic choice uses this backend (:func:`jax.lax.platform_dependent` names)."""


def _per_neuron_args(weights: jax.Array, params: LIFParams):
    """The per-neuron arguments of a chunk: the weight columns, then each parameter that is
    ``[N]`` (scalars are shared); padding neurons get weight 0 and parameters 1."""
    fields = (params.tau_syn, params.theta, params.delta_theta)
    mapped = [(weights, 1, 0.0)] + [(jnp.asarray(p), 0, 1.0) for p in fields if jnp.ndim(p)]
    shared = [None if jnp.ndim(p) else p for p in fields]

    def unpack(w, *chunk_params):
        it = iter(chunk_params)
        return w, [next(it) if p is None else p for p in shared]

    return tuple(mapped), unpack


def forward_rounds(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    t_max: jax.Array,
    max_spikes: int,
    *,
    max_chunk_elements: int = MAX_CHUNK_ELEMENTS,
    count_limit: int = SPIKE_COUNT_LIMIT,
) -> tuple[EventForward, jax.Array]:
    """The forward pass and its sequential depth.

    Args:
      events: ``[B, E]`` sorted :class:`~snnjax.lif.events.Events`, all ``< t_max``.
      weights: ``[n_in, N]``; params: :class:`~snnjax.lif.LIFParams` (scalars or ``[N]``).
      t_max: scalar end of the simulation (s); max_spikes: static ``K``.
      max_chunk_elements: static memory budget (elements of one ``[B, n, E]`` array).
      count_limit: static spike count at which a neuron stops (lowered only by tests).

    Returns:
      ``(forward, rounds)``: the :class:`~snnjax.lif.forward.EventForward` and the scalar
      int32 number of sequential rounds (summed over the neuron chunks).
    """
    event_times = events.times
    batch, n_events = event_times.shape
    n_out, dtype = weights.shape[1], weights.dtype
    if n_events == 0 or batch == 0 or n_out == 0:  # (static) nothing can spike
        shape = (batch, n_out, max_spikes)
        count = jnp.zeros(shape[:2], jnp.int32)
        index = jnp.full(shape, -1, jnp.int32)
        silent = jnp.full(shape, jnp.inf, dtype), jnp.ones(shape, dtype), index, count, count
        return make_event_forward(event_times, *silent), jnp.zeros((), jnp.int32)
    mapped, unpack = _per_neuron_args(weights, params)

    def chunk_fn(*args):
        w, (tau_syn, theta, delta_theta) = unpack(*args)
        out = forward_chunk(events, w, tau_syn, theta, delta_theta, t_max, max_spikes, count_limit)
        return out.times, out.slope, out.event_index, out.n_spikes, out.n_unresolved, out.rounds

    chunk = neuron_chunk_size(batch, n_out, n_events, max_chunk_elements)
    times, slope, index, count, unresolved, rounds = map_neuron_chunks(
        chunk_fn, mapped, n_out, chunk, (1, 1, 1, 1, 1, None)
    )
    return make_event_forward(event_times, times, slope, index, count, unresolved), rounds


def forward_events(
    events,
    weights,
    params,
    t_max,
    max_spikes,
    *,
    max_chunk_elements=MAX_CHUNK_ELEMENTS,
    count_limit=SPIKE_COUNT_LIMIT,
):
    """The :attr:`EventBackend.forward` of this backend (arguments of
    :func:`forward_rounds`), an :class:`~snnjax.lif.forward.EventForward`."""
    out, _ = forward_rounds(
        events,
        weights,
        params,
        t_max,
        max_spikes,
        max_chunk_elements=max_chunk_elements,
        count_limit=count_limit,
    )
    return out


def backward_events(
    events, weights, params, forward, cot_times, *, max_chunk_elements=MAX_CHUNK_ELEMENTS
):
    """Exact ``(d_event_times [B, E], d_weights [n_in, N])`` given ``dL/d spike_times``
    ``cot_times [B, N, K]`` (the :attr:`EventBackend.backward` of this backend)."""
    batch, n_events = events.times.shape
    n_out = weights.shape[1]
    if n_events == 0 or batch == 0 or n_out == 0:
        return jnp.zeros_like(events.times), jnp.zeros_like(weights)
    mapped, unpack = _per_neuron_args(weights, params)
    slots = (forward.times, forward.slope, forward.frame_time, forward.event_index, cot_times)
    fills = (jnp.inf, 1.0, 0.0, -1, 0.0)
    mapped = mapped + tuple((x, 1, f) for x, f in zip(slots, fills, strict=True))
    n_params = len(mapped) - len(slots)

    def chunk_fn(*args):
        w, (tau_syn, theta, delta_theta) = unpack(*args[:n_params])
        return backward_chunk(events, w, tau_syn, theta, delta_theta, *args[n_params:])

    chunk = neuron_chunk_size(batch, n_out, n_events, max_chunk_elements)
    d_weights, d_times = map_neuron_chunks(chunk_fn, mapped, n_out, chunk, (1, None))
    return d_times, d_weights


def make_parallel_backend(max_chunk_elements: int = MAX_CHUNK_ELEMENTS) -> EventBackend:
    """A ``"parallel"`` backend whose ``[B, n, E]`` intermediates have at most
    ``max_chunk_elements`` elements (see the module doc).

    Example:
      >>> make_parallel_backend(2**20).name
      'parallel'
    """
    return _make(int(max_chunk_elements))


@functools.cache
def _make(max_chunk_elements: int) -> EventBackend:
    neuron_chunk_size(1, 1, 1, max_chunk_elements)  # validates the budget
    budget = {"max_chunk_elements": max_chunk_elements}
    return EventBackend(
        name="parallel",
        sort_events=sort_events,
        forward=functools.partial(forward_events, **budget),
        backward=functools.partial(backward_events, **budget),
        platforms=PLATFORMS,
    )


BACKEND = make_parallel_backend()
