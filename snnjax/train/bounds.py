"""Static bounds on the input events of each spiking layer: resolved, calibrated, grown.

An event kernel sizes its event list by a static bound (``max_input_events`` of
:func:`snnjax.lif_layer`); without one it holds every slot that *could* carry an event, e.g.
``800 x 30 = 24,000`` for the output layer of ``mnist_multispike``, whose input (the hidden
layer's spikes) holds ~500-1,200 events per sample. The kernels' work grows with the bound
(measured in ``docs/performance.md``), so the training loop bounds each layer by what its
input actually carries:

* the first layer of a dense network on images: the largest number of active pixels of a
  sample over every split (exact; :func:`snnjax.train.input_event_bound`);
* each later dense layer: ``config.spike_input_events`` — an int, ``None`` (every slot) or
  ``"auto"``: **calibrated** at setup by :func:`calibrate_spike_counts` (the most spikes a
  sample emits into the layer over the first :data:`CALIBRATION_BATCHES` training batches
  of epoch 1, with the initial weights), times :data:`MARGIN`, rounded up to a power of
  two (:func:`bound_for`) — deterministic for a given config and data.

The bounds are recorded in ``run.json`` (``input_event_bounds``), so evaluation and restore
use them. A bound is **never exceeded silently**: every step and evaluation counts the
events that did not fit (``n_input_overflow``); when any did, the training loop grows the
bounds (:func:`grown_bounds`), recompiles and does the epoch (or the evaluation) again from
its start, so no result computed with ignored events is kept (``snnjax.train.loop``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "CALIBRATION_BATCHES",
    "MARGIN",
    "Bounds",
    "bound_for",
    "calibrate_spike_counts",
    "grown_bounds",
    "input_slots",
    "max_per_layer",
    "merge_bounds",
    "next_power_of_two",
    "recorded_bounds",
    "resolve_bounds",
]

#: Training batches (the first of epoch 1) whose spikes calibrate an ``"auto"`` bound.
CALIBRATION_BATCHES = 4
#: Safety factor on the calibrated (or overflowing) event count before rounding up.
MARGIN = 1.5

Bounds = tuple[int | None, ...]
"""One static input-event bound per spiking layer (``None`` = every slot)."""


def next_power_of_two(n: int) -> int:
    """Smallest power of two ``>= n`` (``1`` for ``n <= 1``).

    Example:
      >>> next_power_of_two(1000), next_power_of_two(1024), next_power_of_two(0)
      (1024, 1024, 1)
    """
    return 1 if n <= 1 else 1 << (int(n) - 1).bit_length()


def bound_for(count: float, slots: int | None, margin: float = MARGIN) -> int | None:
    """The bound of a layer whose input carries up to ``count`` events per sample:
    ``count * margin`` rounded up to a power of two, or ``None`` when that reaches the
    layer's ``slots`` (a bound that large saves nothing).

    Example:
      >>> bound_for(1188, 24000), bound_for(20000, 24000)
      (2048, None)
    """
    bound = next_power_of_two(max(math.ceil(count * margin), 1))
    return None if slots is not None and bound >= slots else bound


def calibrate_spike_counts(
    apply_fn, params, batches: Iterable[Any], spiking: Sequence[int]
) -> list[int]:
    """The most spikes one sample emits from each spiking layer over ``batches``.

    Args:
      apply_fn: ``apply_fn(params, times) -> NetworkOutput`` of a network whose bounds
        cannot overflow (e.g. ``jax.jit(lambda p, x: model.apply({"params": p}, x))``).
      params: its parameters.
      batches: input batches ``[B, ...]`` (host or device arrays).
      spiking: indices of the spiking layers in ``NetworkOutput.layer_times``.

    Returns:
      One int per spiking layer: the largest number of finite spike times of a sample.
    """
    most = [0] * len(spiking)
    for times in batches:
        out = apply_fn(params, times)
        for j, i in enumerate(spiking):
            t = out.layer_times[i]
            per_sample = jnp.sum(jnp.isfinite(t).reshape(t.shape[0], -1), axis=1)
            most[j] = max(most[j], int(jax.device_get(jnp.max(per_sample, initial=0))))
    return most


def grown_bounds(
    bounds: Bounds, overflow_max: Sequence[float], slots: Sequence[int | None]
) -> Bounds | None:
    """New bounds after an overflow, or ``None`` when nothing overflowed.

    Args:
      bounds: the current bounds, one per spiking layer.
      overflow_max: per layer, the most input events of one sample that did not fit (an
        upper bound of it is fine, e.g. summed over devices).
      slots: per layer, the number of input slots (``None`` = unknown).

    Returns:
      ``bound + overflow`` events times :data:`MARGIN`, rounded up to a power of two (and at
      least doubled), for each layer that overflowed; the others unchanged.
    """
    if not any(float(o) > 0 for o in overflow_max):
        return None
    new = []
    for bound, over, n in zip(bounds, overflow_max, slots, strict=True):
        if float(over) > 0 and bound is not None:
            needed = max(bound + math.ceil(float(over)), 2 * bound)
            bound = bound_for(needed, n)
        new.append(bound)
    return tuple(new)


def merge_bounds(a: Bounds, b: Bounds) -> Bounds:
    """Layer-wise the larger of two bound tuples (``None``, every slot, wins)."""
    return tuple(None if x is None or y is None else max(x, y) for x, y in zip(a, b, strict=True))


def recorded_bounds(run_info: dict[str, Any], n_layers: int) -> Bounds | None:
    """The bounds a ``run.json`` records, ``None`` if it records none.

    ``input_event_bounds`` (one per spiking layer); in runs written before it existed,
    ``max_input_events`` (the first layer's; the others had every slot).
    """
    per_layer = run_info.get("input_event_bounds")
    if isinstance(per_layer, list) and len(per_layer) == n_layers:
        return tuple(None if b is None else int(b) for b in per_layer)
    if "max_input_events" in run_info:
        first = run_info["max_input_events"]
        return (None if first is None else int(first),) + (None,) * (n_layers - 1)
    return None


def max_per_layer(*overflow_max: Sequence[float] | np.ndarray | None) -> list[float]:
    """Layer-wise maximum of several ``overflow_max`` vectors (``None`` entries skipped)."""
    rows = [np.asarray(o, dtype=float) for o in overflow_max if o is not None]
    return list(np.max(np.stack(rows), axis=0)) if rows else []


def input_slots(config) -> tuple[int | None, ...]:
    """Per spiking layer of a dense ``config``, the input slots that can carry an event
    (``n_in x K_in``: the pixels, then each layer's neurons times its spike buffer);
    ``None`` for every layer of a conv network."""
    n = config.n_spiking_layers
    if config.architecture == "conv":
        return (None,) * n
    sizes, k = config.sizes, config.max_spikes
    return (int(sizes[0]),) + tuple(int(sizes[i]) * int(k[i - 1]) for i in range(1, n))


def resolve_bounds(config, data, first: int | None) -> tuple[Bounds, dict[str, Any]]:
    """The bounds of a run of ``config`` on ``data`` (:class:`snnjax.train.DataSplits`).

    Args:
      config: the experiment config (``spike_input_events`` for the later layers).
      data: the encoded splits; ``"auto"`` is calibrated on the first
        :data:`CALIBRATION_BATCHES` batches of epoch 1 of ``data.train`` with the weights
        initialised from ``config.seed``.
      first: the first layer's bound (:func:`snnjax.train.input_event_bound`).

    Returns:
      ``(bounds, calibration)``: one bound per spiking layer, and what was calibrated
      (``{}`` when nothing was): ``{"batches", "margin", "most_events"}`` with the most
      input events of a sample per layer (``None`` where not calibrated).
    """
    from snnjax.data import batches as batch_order  # imports kept local: no cycle
    from snnjax.train.model import build_model, init_params, spiking_layer_indices

    wanted = config.spike_input_bounds()
    slots = input_slots(config)
    if "auto" not in wanted:
        return (first, *wanted), {}
    model = build_model(config, (first,) + (None,) * len(wanted))
    params = init_params(model, data.input_shape, config.seed)
    order = batch_order(len(data.train), config.batch_size, seed=config.seed, epoch=0)
    inputs = [data.train.times[idx] for idx in itertools.islice(order, CALIBRATION_BATCHES)]
    apply_fn = jax.jit(lambda p, x: model.apply({"params": p}, x))
    most = calibrate_spike_counts(apply_fn, params, inputs, spiking_layer_indices(model))
    later = tuple(
        bound_for(most[i], slots[i + 1]) if w == "auto" else w for i, w in enumerate(wanted)
    )
    calibration = {
        "batches": len(inputs),
        "margin": MARGIN,
        "most_events": [None]
        + [m if w == "auto" else None for m, w in zip(most[:-1], wanted, strict=True)],
    }
    return (first, *later), calibration
