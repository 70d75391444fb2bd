"""Old location of the functional layer; now :mod:`snnjax.lif.layer` (kept so that old
imports work)."""

from snnjax.lif.layer import LayerOutput, check_spike_times, checkify_spike_times, lif_layer

__all__ = ["LayerOutput", "lif_layer", "check_spike_times", "checkify_spike_times"]
