"""Which layers of a network spike, and what they are called (one naming scheme).

A **spiking layer** is an :class:`snnjax.nn.LIFDense` or :class:`snnjax.nn.LIFConv`; pooling
and flatten layers route spikes but are not spiking layers. Indices refer to
``model.layers`` (and to ``NetworkOutput.layer_times``, which has one entry per layer).

Spiking layers are named ``conv1, conv2, ...`` (convolutional layers), ``hidden1, hidden2,
...`` (dense hidden layers) and ``output`` (the last dense layer). These names are used
everywhere: training metrics (``metrics.jsonl``, ``results.json``), ``snnjax eval``, the
analysis (:func:`snnjax.analysis.evaluate_tradeoffs`), the trade-off report and the
raster plots.

Example:
  >>> from snnjax.nn import make_dense_network, spiking_layer_names
  >>> spiking_layer_names(
  ...     make_dense_network(sizes=(5, 8, 8, 3), thetas=(1, 1, 1), max_spikes=(2, 2, 2))
  ... )
  ('hidden1', 'hidden2', 'output')
"""

from __future__ import annotations

from typing import Any

from snnjax.nn.layers import LIFConv, LIFDense

__all__ = ["is_spiking_layer", "spiking_layer_indices", "spiking_layer_names"]


def is_spiking_layer(layer: Any) -> bool:
    """True for a layer of LIF neurons (:class:`LIFDense`, :class:`LIFConv`)."""
    return isinstance(layer, (LIFDense, LIFConv))


def spiking_layer_indices(model: Any) -> tuple[int, ...]:
    """Indices into ``model.layers`` (and ``NetworkOutput.layer_times``) of the spiking layers."""
    return tuple(i for i, layer in enumerate(model.layers) if is_spiking_layer(layer))


def spiking_layer_names(model: Any) -> tuple[str, ...]:
    """Names of the spiking layers: ``conv1, conv2, ..., hidden1, ..., output``."""
    names, n_conv, n_hidden = [], 0, 0
    idx = spiking_layer_indices(model)
    for j, i in enumerate(idx):
        if isinstance(model.layers[i], LIFConv):
            n_conv += 1
            names.append(f"conv{n_conv}")
        elif j == len(idx) - 1:
            names.append("output")
        else:
            n_hidden += 1
            names.append(f"hidden{n_hidden}")
    return tuple(names)
