"""Old location of the pure-JAX event loop; it is now the ``"loop"`` backend.

Kept so that old imports work. New code: :mod:`snnjax.lif.events` (sorting),
:mod:`snnjax.lif.forward` (:class:`EventForward`), :mod:`snnjax.lif.backends.loop`.
"""

from __future__ import annotations

import jax.numpy as jnp

from snnjax.lif.backends import get_backend
from snnjax.lif.backends import loop as _loop
from snnjax.lif.events import Events, event_capacity
from snnjax.lif.forward import EventForward, make_event_forward
from snnjax.lif.params import LIFParams

__all__ = ["EventForward", "sort_events", "forward_events", "make_event_forward"]


def sort_events(input_times, t_max, max_events: int | None = None, compiled: bool = False):
    """Old signature of the event sort: ``(event_times, event_source, n_overflow)``;
    ``compiled`` selects the ``"ffi"`` backend's sort (see :mod:`snnjax.lif.backends`)."""
    input_times = jnp.asarray(input_times)
    n_events = event_capacity(input_times.shape[1], input_times.shape[2], max_events)
    events, n_overflow = get_backend("ffi" if compiled else "loop").sort_events(
        input_times, t_max, n_events
    )
    return events.times, events.source, n_overflow


def forward_events(
    event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, max_spikes: int
) -> EventForward:
    """Old positional signature of :func:`snnjax.lif.backends.loop.forward_events`."""
    params = LIFParams(tau_syn, theta, delta_theta)
    return _loop.forward_events(
        Events(jnp.asarray(event_times), jnp.asarray(event_source)),
        jnp.asarray(weights),
        params,
        t_max,
        max_spikes,
    )
