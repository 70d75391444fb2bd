"""The event core of the LIF model: exact spike times and exact gradients (imports only JAX
and NumPy, on first access).

Read in pipeline order:

* :mod:`~snnjax.lif.params`: :class:`LIFParams`, the neuron's physical parameters;
* :mod:`~snnjax.lif.crossing`: :func:`crossing_z`, the closed-form threshold crossing;
* :mod:`~snnjax.lif.events`: :class:`Events`, the merged, sorted input spikes of a sample;
* :mod:`~snnjax.lif.forward`: :class:`EventForward`, what a forward pass returns;
* :mod:`~snnjax.lif.grad`: the ``custom_vjp`` of the spike times (SPEC §4);
* :mod:`~snnjax.lif.layer`: :func:`lif_layer`, the public functional layer;
* :mod:`~snnjax.lif.backends`: the event backends that run the loop (``"ffi"``,
  ``"loop"``, ``"parallel"``), their interface :class:`EventBackend` and the automatic choice;
* :mod:`~snnjax.lif.reference`: the float64 NumPy oracle every backend is tested against.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from snnjax.lif.backends import EventBackend, available_backends, backend_names, get_backend
    from snnjax.lif.crossing import crossing_z
    from snnjax.lif.events import Events
    from snnjax.lif.forward import EventForward
    from snnjax.lif.layer import LayerOutput, check_spike_times, checkify_spike_times, lif_layer
    from snnjax.lif.params import (
        LIFParams,
        checkify_layer_inputs,
        checkify_lif_params,
        checkify_weights,
    )

# Each public name and the module that defines it, imported on first access (so that
# ``snnjax.lif.backend_table`` can be read without importing JAX).
_WHERE = {
    "EventBackend": "backends",
    "available_backends": "backends",
    "backend_names": "backends",
    "get_backend": "backends",
    "crossing_z": "crossing",
    "Events": "events",
    "EventForward": "forward",
    "LayerOutput": "layer",
    "check_spike_times": "layer",
    "checkify_spike_times": "layer",
    "lif_layer": "layer",
    "LIFParams": "params",
    "checkify_layer_inputs": "params",
    "checkify_lif_params": "params",
    "checkify_weights": "params",
}

_SUBMODULES = frozenset(
    ("backend_table", "backends", "crossing", "events", "forward", "grad", "layer", "params")
    + ("reference",)
)

__all__ = [
    "EventBackend",
    "EventForward",
    "Events",
    "LIFParams",
    "LayerOutput",
    "available_backends",
    "backend_names",
    "check_spike_times",
    "checkify_layer_inputs",
    "checkify_lif_params",
    "checkify_spike_times",
    "checkify_weights",
    "crossing_z",
    "get_backend",
    "lif_layer",
]


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"snnjax.lif.{_WHERE[name]}"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"snnjax.lif.{name}")
    raise AttributeError(f"module 'snnjax.lif' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_WHERE, *_SUBMODULES})
