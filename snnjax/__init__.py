"""snnjax: exact, event-based training of spiking neural networks in JAX."""

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
