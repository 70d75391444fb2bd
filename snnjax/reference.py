"""Old location of the float64 NumPy oracle; now :mod:`snnjax.lif.reference` (kept so that
old imports work)."""

from snnjax.lif.reference import membrane_potential, simulate_layer

__all__ = ["membrane_potential", "simulate_layer"]
