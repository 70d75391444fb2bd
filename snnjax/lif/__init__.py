"""The event core of the LIF model: exact spike times and exact gradients (imports only JAX
and NumPy).

Read in pipeline order:

* :mod:`~snnjax.lif.params`: :class:`LIFParams`, the neuron's physical parameters;
* :mod:`~snnjax.lif.crossing`: :func:`crossing_z`, the closed-form threshold crossing;
* :mod:`~snnjax.lif.events`: :class:`Events`, the merged, sorted input spikes of a sample;
* :mod:`~snnjax.lif.forward`: :class:`EventForward`, what a forward pass returns;
* :mod:`~snnjax.lif.grad`: the ``custom_vjp`` of the spike times (SPEC §4);
* :mod:`~snnjax.lif.layer`: :func:`lif_layer`, the public functional layer;
* :mod:`~snnjax.lif.backends`: the event backends that run the loop (``"ffi"``,
  ``"loop"``), their interface :class:`EventBackend` and the automatic choice;
* :mod:`~snnjax.lif.reference`: the float64 NumPy oracle every backend is tested against.
"""

from snnjax.lif.backends import EventBackend, available_backends, backend_names, get_backend
from snnjax.lif.crossing import crossing_z
from snnjax.lif.events import Events
from snnjax.lif.forward import EventForward
from snnjax.lif.layer import LayerOutput, check_spike_times, checkify_spike_times, lif_layer
from snnjax.lif.params import LIFParams

__all__ = [
    "EventBackend",
    "EventForward",
    "Events",
    "LIFParams",
    "LayerOutput",
    "available_backends",
    "backend_names",
    "check_spike_times",
    "checkify_spike_times",
    "crossing_z",
    "get_backend",
    "lif_layer",
]
