"""Old location of the compiled CPU kernel; it is now the ``"ffi"`` backend
(:mod:`snnjax.lif.backends.ffi`). Kept so that old imports work, with the old signatures.

``use_cpu_kernel`` answers whether the automatic choice runs the compiled kernel on the
default platform; the choice itself is :func:`snnjax.lif.backends.resolve_backend`.
"""

from __future__ import annotations

import jax.numpy as jnp

from snnjax.lif.backends import backend_name
from snnjax.lif.backends import ffi as _ffi
from snnjax.lif.backends.ffi import available
from snnjax.lif.events import Events
from snnjax.lif.forward import EventForward
from snnjax.lif.params import LIFParams

__all__ = ["available", "use_cpu_kernel", "sort_events", "forward", "backward"]


def use_cpu_kernel(tau_syn) -> bool:
    """Whether ``backend=None`` runs the compiled kernel on the default platform (for a
    float32 layer with this ``tau_syn``)."""
    return backend_name(None, params=LIFParams(tau_syn)) == "ffi"


def sort_events(input_times, t_max, n_events: int):
    """Old signature: ``(event_times, event_source, n_valid)``."""
    _ffi._require()
    input_times = jnp.asarray(input_times)
    t_max = jnp.asarray(t_max, input_times.dtype)
    return _ffi._sort_with_vjp(tuple(input_times.shape), int(n_events))(input_times, t_max)


def forward(
    event_times, event_source, weights, tau_syn, theta, delta_theta, t_max, max_spikes: int
):
    """Old signature: ``(times, slope, event_index, n_spikes)``."""
    out = _ffi.forward(
        Events(jnp.asarray(event_times), jnp.asarray(event_source)),
        jnp.asarray(weights),
        LIFParams(tau_syn, theta, delta_theta),
        t_max,
        max_spikes,
    )
    return out.times, out.slope, out.event_index, out.n_spikes


def backward(
    event_times,
    event_source,
    weights,
    tau_syn,
    delta_theta,
    cot_times,
    times,
    slope,
    event_index,
    n_spikes,
):
    """Old signature: ``(d_weights, d_event_times)``."""
    event_times = jnp.asarray(event_times)
    fw = EventForward(
        times=times,
        n_spikes=n_spikes,
        event_index=event_index,
        slope=slope,
        frame_time=None,
        n_steps=None,
        n_unresolved=None,
    )
    d_times, d_weights = _ffi.backward(
        Events(event_times, jnp.asarray(event_source)),
        jnp.asarray(weights),
        LIFParams(tau_syn, 1.0, delta_theta),
        fw,
        jnp.asarray(cot_times),
    )
    return d_weights, d_times
