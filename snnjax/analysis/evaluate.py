"""One pass of a trained network over a data set, with every trade-off metric (SPEC §7).

:func:`evaluate_tradeoffs` is the notebook-friendly entry point behind a trade-off report:
it runs ``model.apply(params, input_times)`` over the data set in batches (one compiled
function) and returns performance, sparsity/energy, dead-neuron and latency measures per
sample, with :meth:`TradeoffEvaluation.summary` giving the scalars (JSON-friendly). Robustness
sweeps (:mod:`snnjax.analysis.robustness`) and convergence (:mod:`snnjax.analysis.convergence`)
are separate calls, because they need noise seeds or training runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import spikes
from snnjax.analysis._common import check_readout, predict
from snnjax.analysis.latency import decision_time
from snnjax.analysis.sparsity import (
    layer_names,
    neuron_spike_totals,
    silent_fraction,
    sparsity_stats,
    spiking_layer_indices,
)

__all__ = ["TradeoffEvaluation", "evaluate_tradeoffs"]


class TradeoffEvaluation(NamedTuple):
    """Per-sample results of :func:`evaluate_tradeoffs` (``N`` samples, ``L`` spiking layers).

    Attributes:
      readout: the readout's name (:mod:`snnjax.readouts`), e.g. ``"count"`` or ``"ttfs"``.
      layer_names: ``L`` names of the spiking layers (``conv1 ... hidden1 ... output``, as
        in the training metrics; :func:`snnjax.nn.spiking_layer_names`).
      labels: ``[N]`` int labels.
      pred: ``[N]`` int predictions, ``-1`` where every output is silent.
      output_times: ``[N, n_classes, K]`` float output trains (s) (for deadline curves).
      decision_time: ``[N]`` float decision time (s), ``inf`` when silent
        (:func:`snnjax.analysis.decision_time`).
      input_spikes: ``[N]`` spikes of the input.
      spikes: ``[N, L]`` spikes of each spiking layer.
      synops: ``[N, L]`` synaptic operations caused by the spikes arriving at each layer.
      silent_neurons: ``[L]`` fraction of each layer's neurons silent on the whole data set.
      label_silent: ``[N]`` bool, the label neuron did not spike.
      n_dropped: ``[N, L]`` spikes lost to full buffers (not in the counts above).
      n_input_overflow: ``[N, L]`` input events ignored (nonzero = wrong results).
    """

    readout: str
    layer_names: tuple[str, ...]
    labels: np.ndarray
    pred: np.ndarray
    output_times: np.ndarray
    decision_time: np.ndarray
    input_spikes: np.ndarray
    spikes: np.ndarray
    synops: np.ndarray
    silent_neurons: np.ndarray
    label_silent: np.ndarray
    n_dropped: np.ndarray
    n_input_overflow: np.ndarray

    def summary(self) -> dict[str, Any]:
        """Scalars of the evaluation (plain Python types, JSON-serialisable).

        Keys: ``accuracy``, ``silent_output_fraction``, ``spikes_per_sample`` (per layer),
        ``total_spikes_per_sample``, ``input_spikes_per_sample``, ``synops_per_sample`` (per
        layer), ``total_synops_per_sample``, ``silent_neuron_fraction`` (per layer),
        ``label_silent_fraction``, ``decision_time_median_s`` / ``_mean_s`` (over samples
        with a decision), ``decision_time_correct_median_s`` (correctly classified
        samples), ``undecided_fraction``, ``dropped_spikes_per_sample``,
        ``input_overflow_total``, ``n_samples``.
        """
        names = self.layer_names
        correct = spikes.correct(self.pred, self.labels)
        decided = np.isfinite(self.decision_time)
        per = lambda arr: {n: float(v) for n, v in zip(names, arr, strict=True)}
        med = lambda v: float(np.median(v)) if v.size else float("nan")
        return {
            "readout": self.readout,
            "n_samples": int(self.labels.size),
            "accuracy": float(correct.mean()),
            "silent_output_fraction": float((self.pred < 0).mean()),
            "spikes_per_sample": per(self.spikes.mean(axis=0)),
            "total_spikes_per_sample": float(self.spikes.sum(axis=1).mean()),
            "input_spikes_per_sample": float(self.input_spikes.mean()),
            "synops_per_sample": per(self.synops.mean(axis=0)),
            "total_synops_per_sample": float(self.synops.sum(axis=1).mean()),
            "silent_neuron_fraction": per(self.silent_neurons),
            "label_silent_fraction": float(self.label_silent.mean()),
            "decision_time_median_s": med(self.decision_time[decided]),
            "decision_time_mean_s": (
                float(self.decision_time[decided].mean()) if decided.any() else float("nan")
            ),
            "decision_time_correct_median_s": med(self.decision_time[correct & decided]),
            "undecided_fraction": float(1.0 - decided.mean()),
            "dropped_spikes_per_sample": per(self.n_dropped.mean(axis=0)),
            "input_overflow_total": int(self.n_input_overflow.sum()),
        }


def evaluate_tradeoffs(
    model, params, input_times, labels, readout: str = "count", *, batch_size: int = 256
) -> TradeoffEvaluation:
    """Run a trained network over a data set and measure its trade-offs.

    Args:
      model: the :class:`snnjax.nn.SpikingNetwork` (its layers define the fan-outs).
      params: its parameters.
      input_times: ``[N, *input_neurons, K_in]`` float input spike trains (s).
      labels: ``[N]`` int labels.
      readout: a registered readout name (:mod:`snnjax.readouts`): ``"count"`` (argmax
        spike count), ``"ttfs"`` (argmin first spike), ...
      batch_size: samples per compiled call (the last batch is padded and masked).

    Returns:
      :class:`TradeoffEvaluation` (call ``.summary()`` for the scalars).
    """
    check_readout(readout)
    x = np.asarray(input_times)
    y = np.asarray(labels)
    if x.ndim < 3 or y.shape != x.shape[:1]:
        raise ValueError(
            f"expected input_times [N, ..., K] and labels [N], got {x.shape} and {y.shape}"
        )
    n = x.shape[0]
    bsz = max(1, min(int(batch_size), n))

    spiking = spiking_layer_indices(model)

    @jax.jit
    def step(params, xb, yb, valid):
        out = model.apply(params, xb)
        pred, _ = predict(out.times, readout)
        stats = sparsity_stats(model, xb, out, yb)
        # Per-neuron totals without the padding samples of the last batch.
        hide = lambda t: jnp.where(valid.reshape((-1,) + (1,) * (t.ndim - 1)), t, jnp.inf)
        totals = tuple(neuron_spike_totals(hide(out.layer_times[i])) for i in spiking)
        return dict(
            pred=pred,
            times=out.times,
            decision=decision_time(out.times, readout),
            input_spikes=stats.input_spikes,
            spikes=stats.spikes,
            synops=stats.synops,
            label_silent=stats.label_silent,
            totals=totals,
            dropped=jnp.stack(out.n_dropped, axis=1),
            overflow=jnp.stack(out.n_input_overflow, axis=1),
        )

    rows: dict[str, list[np.ndarray]] = {}
    totals = None
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    for start in range(0, n, bsz):
        stop = min(start + bsz, n)
        idx = np.arange(start, start + bsz)
        valid = idx < stop
        idx = np.where(valid, idx, start)
        res = step(
            params, jnp.asarray(x[idx], dtype), jnp.asarray(y[idx], jnp.int32), jnp.asarray(valid)
        )
        res = jax.tree_util.tree_map(np.asarray, res)
        totals = (
            res["totals"]
            if totals is None
            else tuple(a + b for a, b in zip(totals, res["totals"], strict=True))
        )
        for name, value in res.items():
            if name != "totals":
                rows.setdefault(name, []).append(value[valid])
    cat = {k: np.concatenate(v) for k, v in rows.items()}
    return TradeoffEvaluation(
        readout=readout,
        layer_names=layer_names(model),
        labels=y.astype(np.int64),
        pred=cat["pred"],
        output_times=cat["times"],
        decision_time=cat["decision"],
        input_spikes=cat["input_spikes"],
        spikes=cat["spikes"],
        synops=cat["synops"],
        silent_neurons=np.array([float(silent_fraction(t)) for t in totals]),
        label_silent=cat["label_silent"],
        n_dropped=cat["dropped"],
        n_input_overflow=cat["overflow"],
    )
