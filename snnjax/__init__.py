"""snnjax: exact, event-based training of spiking neural networks in JAX.

The functional core is imported eagerly (``lif_layer``, ``LIFParams``); the submodules
(``snnjax.nn``, ``snnjax.losses``, ``snnjax.encoding``, ``snnjax.data``, ``snnjax.train``,
``snnjax.analysis``, ``snnjax.reports``, ``snnjax.interop``, ``snnjax.reference``, ...) are
imported on first access, so that ``import snnjax`` does not pull in Flax, Optax or matplotlib.
"""

import importlib

from snnjax.layer import LayerOutput, check_spike_times, checkify_spike_times, lif_layer
from snnjax.lif import LIFParams

__version__ = "0.1.0"

__all__ = [
    "LIFParams",
    "LayerOutput",
    "check_spike_times",
    "checkify_spike_times",
    "lif_layer",
]

_SUBMODULES = frozenset({
    "analysis", "configs", "convergence_report", "cpu_kernel", "data", "encoding", "grad",
    "kernel", "lif",
    "losses", "nir", "nn", "plot", "readouts", "reference", "spikes", "tradeoffs", "train",
    "interop", "reports",
})
# Old names of moved modules: ``snnjax.tradeoffs`` is ``snnjax.reports.tradeoffs``, etc.
_MOVED_MODULES = {
    "convergence_report": "snnjax.reports.convergence",
    "nir": "snnjax.interop.nir",
    "plot": "snnjax.reports.plot",
    "tradeoffs": "snnjax.reports.tradeoffs",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"snnjax.{name}")
    raise AttributeError(f"module 'snnjax' has no attribute {name!r}")
