"""snnjax: exact, event-based training of spiking neural networks in JAX.

The functional core (the package :mod:`snnjax.lif`: ``lif_layer``, ``LIFParams``, the event
backends) is imported eagerly; the submodules (``snnjax.nn``, ``snnjax.losses``,
``snnjax.encoding``, ``snnjax.data``, ``snnjax.train``, ``snnjax.analysis``, ``snnjax.reports``,
``snnjax.interop``, ...) are imported on first access, so that ``import snnjax`` does not pull
in Flax, Optax or matplotlib. ``snnjax.kernel``, ``grad``, ``layer`` and ``cpu_kernel`` are
the old locations of parts of :mod:`snnjax.lif`, kept for old imports (``snnjax.reference``
is :mod:`snnjax.lif.reference`).
"""

import importlib

from snnjax.lif import LayerOutput, LIFParams, check_spike_times, checkify_spike_times, lif_layer

__version__ = "0.1.0"

__all__ = [
    "LIFParams",
    "LayerOutput",
    "check_spike_times",
    "checkify_spike_times",
    "lif_layer",
]

_SUBMODULES = frozenset(
    {
        "analysis",
        "configs",
        "convergence_report",
        "cpu_kernel",
        "data",
        "encoding",
        "grad",
        "kernel",
        "layer",
        "lif",
        "losses",
        "nir",
        "nn",
        "plot",
        "readouts",
        "reference",
        "spikes",
        "tradeoffs",
        "train",
        "interop",
        "reports",
    }
)
# Old names of moved modules: ``snnjax.tradeoffs`` is ``snnjax.reports.tradeoffs``, etc.
_MOVED_MODULES = {
    "convergence_report": "snnjax.reports.convergence",
    "nir": "snnjax.interop.nir",
    "plot": "snnjax.reports.plot",
    "reference": "snnjax.lif.reference",
    "tradeoffs": "snnjax.reports.tradeoffs",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"snnjax.{name}")
    raise AttributeError(f"module 'snnjax' has no attribute {name!r}")
