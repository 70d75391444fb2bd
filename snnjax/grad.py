"""Old location of the exact gradients; now :mod:`snnjax.lif.grad`.

Kept so that old imports work (``spike_errors`` is unchanged). ``event_spike_times`` keeps
its old positional signature here; the new one takes :class:`~snnjax.lif.events.Events`,
:class:`~snnjax.lif.LIFParams` and a backend.
"""

from __future__ import annotations

import jax.numpy as jnp

from snnjax.lif import grad as _grad
from snnjax.lif.backends import get_backend
from snnjax.lif.events import Events
from snnjax.lif.grad import spike_errors
from snnjax.lif.params import LIFParams

__all__ = ["event_spike_times", "spike_errors"]


def event_spike_times(
    event_times,
    event_source,
    weights,
    tau_syn,
    theta,
    delta_theta,
    t_max,
    max_spikes,
    compiled=False,
):
    """Old positional signature of :func:`snnjax.lif.grad.event_spike_times`; ``compiled``
    selects the ``"ffi"`` backend, else ``"loop"``."""
    times, n_spikes, _ = _grad.event_spike_times(
        Events(jnp.asarray(event_times), jnp.asarray(event_source)),
        weights,
        LIFParams(tau_syn, theta, delta_theta),
        t_max,
        max_spikes,
        get_backend("ffi" if compiled else "loop"),
    )
    return times, n_spikes
