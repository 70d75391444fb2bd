"""Evaluating parameters on one split: accuracy, loss, spikes, silent neurons, drops.

:func:`evaluate` runs a jitted eval step (:func:`snnjax.train.make_eval_step`) over a split
in padded, masked batches and turns the summed counts into per-sample rates; the epoch
loop (:mod:`snnjax.train.loop`) and :func:`snnjax.train.evaluate_run` both use it.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.train.data import SpikeDataset
from snnjax.train.parallel import mesh_size, shard_batch

__all__ = ["evaluate"]


def put_batch(x: np.ndarray, mesh) -> Any:
    """The host batch as a step takes it: unchanged, or split over the mesh."""
    return x if mesh is None else shard_batch(x, mesh)


# Step metrics that are maxima over the samples, not sums: accumulated by their maximum.
MAX_METRICS = frozenset({"overflow_max"})


def accumulate(totals: dict[str, Any], stats: dict[str, Any]) -> None:
    """Add one step's metrics into ``totals`` (in place): sums, or maxima for
    :data:`MAX_METRICS`."""
    for k, v in stats.items():
        if k not in totals:
            totals[k] = v
        elif k in MAX_METRICS:
            totals[k] = jnp.maximum(totals[k], v)
        else:
            totals[k] = totals[k] + v


def per_layer(names: list[str], values) -> dict[str, float]:
    """``{layer name: float(value)}`` (one value per spiking layer)."""
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def evaluate(
    eval_step, params, data: SpikeDataset, batch_size: int, layer_names: list[str], mesh=None
) -> dict[str, Any] | None:
    """Evaluate ``params`` on one split.

    Args:
      eval_step: from :func:`snnjax.train.make_eval_step`.
      params: network parameters.
      data: the split (``None`` or empty -> ``None``).
      batch_size: evaluation batch size (the last batch is padded and masked).
      layer_names: names of the spiking layers.
      mesh: the eval step's data-parallel mesh, if any: the batch size is then rounded up
        to a multiple of its device count (padding is masked; results do not change).

    Returns:
      ``{"accuracy", "silent_output_fraction", "label_silent_fraction", "loss",
      "spikes_per_sample": {layer: float}, "silent_neurons": {layer: fraction of neurons
      that never spiked on this split}, "dropped_spikes_per_sample", "input_overflow_per_sample",
      "input_overflow_max" (the most events of one sample that did not fit), "n"}``, or
      ``None`` for an empty split.
    """
    if data is None or len(data) == 0:
        return None
    n = len(data)
    bs = min(batch_size, n)
    bs = -(-bs // mesh_size(mesh)) * mesh_size(mesh)
    totals: dict[str, Any] = {}
    active = None
    for start in range(0, n, bs):
        idx = np.arange(start, start + bs)
        mask = idx < n
        idx = np.minimum(idx, n - 1)
        stats = eval_step(
            params,
            put_batch(data.times[idx], mesh),
            put_batch(data.labels[idx], mesh),
            put_batch(mask, mesh),
        )
        act = stats.pop("active")
        active = act if active is None else tuple(a | b for a, b in zip(active, act, strict=True))
        accumulate(totals, stats)
    totals = jax.device_get(totals)
    active = jax.device_get(active)
    count = float(totals["n"])
    return {
        "n": int(count),
        "accuracy": float(totals["correct"]) / count,
        "silent_output_fraction": float(totals["silent_outputs"]) / count,
        "label_silent_fraction": float(totals["label_silent"]) / count,
        "loss": (
            float(totals["loss_sum"]) / float(totals["loss_finite"])
            if totals["loss_finite"] > 0
            else math.inf
        ),
        "spikes_per_sample": per_layer(layer_names, totals["spikes"] / count),
        "silent_neurons": per_layer(layer_names, [1.0 - float(np.mean(a)) for a in active]),
        "dropped_spikes_per_sample": per_layer(layer_names, totals["dropped"] / count),
        "input_overflow_per_sample": per_layer(layer_names, totals["overflow"] / count),
        "input_overflow_max": per_layer(layer_names, totals["overflow_max"]),
    }
