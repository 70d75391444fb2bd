"""snnjax: exact, event-based training of spiking neural networks in JAX.

Everything is imported on first access: the functional core (``snnjax.lif_layer``,
``snnjax.LIFParams``, ... from :mod:`snnjax.lif`) and the submodules (``snnjax.nn``,
``snnjax.losses``, ``snnjax.encoding``, ``snnjax.data``, ``snnjax.train``, ``snnjax.analysis``,
``snnjax.reports``, ``snnjax.interop``, ...). ``import snnjax`` therefore imports neither JAX
nor Flax, Optax or matplotlib, and the ``snnjax`` command answers ``--help`` or a misspelt
name without loading them. ``snnjax.kernel``, ``grad``, ``layer`` and ``cpu_kernel`` are
the old locations of parts of :mod:`snnjax.lif`, kept for old imports (``snnjax.reference``
is :mod:`snnjax.lif.reference`).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from snnjax.lif import (
        LayerOutput,
        LIFParams,
        check_spike_times,
        checkify_layer_inputs,
        checkify_lif_params,
        checkify_spike_times,
        checkify_weights,
        lif_layer,
    )

__version__ = "0.1.0"

__all__ = [
    "LIFParams",
    "LayerOutput",
    "check_spike_times",
    "checkify_layer_inputs",
    "checkify_lif_params",
    "checkify_spike_times",
    "checkify_weights",
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
        "host_memory",
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


# The functional core, re-exported from snnjax.lif on first access.
_CORE = frozenset(__all__)


def __getattr__(name):
    if name in _CORE:
        return getattr(importlib.import_module("snnjax.lif"), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"snnjax.{name}")
    raise AttributeError(f"module 'snnjax' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_CORE, *_SUBMODULES})
