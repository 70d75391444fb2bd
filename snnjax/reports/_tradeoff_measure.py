"""The measuring step of the trade-off report: loaded runs -> tables and curves, no file I/O.

Helpers of :func:`snnjax.reports.tradeoffs.measure_tradeoffs`. Tables are
``{table: {row_label: {run_or_group: value}}}`` (:data:`snnjax.reports._format.Table`);
every function here fills or returns such rows from :class:`LoadedRun` objects,
:class:`snnjax.analysis.TradeoffEvaluation` and :class:`snnjax.analysis.RobustnessResult`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from snnjax.reports._format import Table, cell, exact_mean, exact_std, mean_std

if TYPE_CHECKING:
    from snnjax.analysis import RobustnessResult, TradeoffEvaluation
    from snnjax.reports.tradeoffs import LoadedRun

Curve = tuple[np.ndarray, np.ndarray, np.ndarray]
"""``(x [P], mean [P], std [P])``: a curve with its spread."""

RUN_TABLES = (
    "performance",
    "sparsity",
    "latency",
    "accuracy_vs_deadline",
    "robustness_input_jitter",
    "robustness_input_jitter_std",
    "robustness_input_deletion",
    "robustness_input_deletion_std",
    "robustness_weight_noise",
    "robustness_weight_noise_std",
    "convergence",
)
"""The per-run tables, in report order (columns = runs)."""

# Rows of the per-run tables summarised over the runs of a seed group (table, row label).
SEED_ROWS = (
    ("performance", "accuracy"),
    ("sparsity", "spikes per sample: total"),
    ("sparsity", "SynOps per sample: total"),
    ("latency", "decision time median (ms)"),
    ("latency", "decision time p90 (ms)"),
    ("latency", "undecided fraction"),
    ("convergence", "test accuracy at best epoch (results.json)"),
    ("convergence", "best validation accuracy"),
    ("convergence", "epochs to 90% of final validation accuracy"),
    ("convergence", "epochs to 95% of final validation accuracy"),
)


class Noise(NamedTuple):
    """One perturbation of the robustness sweeps.

    Attributes:
      kind: :func:`snnjax.analysis.robustness_sweep` kind (``"input_jitter"``, ...).
      levels: its levels (s for jitter).
      xlabel: plot axis label.
      scale: factor from a level to its row label and plot axis (1e3: s -> ms).
    """

    kind: str
    levels: tuple[float, ...]
    xlabel: str
    scale: float

    def row(self, level: float) -> str:
        """The row label of ``level`` (``"5"`` for 5 ms of jitter)."""
        return cell(level * self.scale)


def empty_tables() -> dict[str, Table]:
    """The per-run tables, empty, in report order."""
    return {name: {} for name in RUN_TABLES}


def add_column(
    tables: dict[str, Table], column: str, rows: Mapping[str, Mapping[str, Any]]
) -> None:
    """Put ``rows = {table: {row: value}}`` into ``tables`` as column ``column``."""
    for tname, values in rows.items():
        for row, value in values.items():
            tables[tname].setdefault(row, {})[column] = value


# ------------------------------------------------------------------------- one run


def robustness_sweeps(
    run: LoadedRun,
    noises: Sequence[Noise],
    noise_seeds: int,
    key: int,
    log: Callable[[str], None],
    *,
    n_samples: int | None = None,
    progress: bool = False,
) -> dict[str, RobustnessResult]:
    """Accuracy under every perturbation of ``noises`` on the first ``n_samples`` of the
    run's samples (all if ``None``); where all noise seeds agree (as at level 0, the clean
    network) the mean is exactly their accuracy and the std exactly 0. ``progress``: a
    progress bar per sweep."""
    from snnjax import analysis

    out = {}
    for noise in noises:
        t0 = time.perf_counter()
        res = analysis.robustness_sweep(
            noise.kind,
            run.model,
            {"params": run.params},
            run.input_times[:n_samples],
            run.labels[:n_samples],
            list(noise.levels),
            noise_seeds,
            key,
            run.readout,
            progress=progress,
        )
        out[noise.kind] = res._replace(
            mean=exact_mean(res.per_seed, axis=1), std=exact_std(res.per_seed, axis=1)
        )
        log(f"  {run.name}: {noise.kind} sweep {time.perf_counter() - t0:.1f} s")
    return out


def run_rows(
    run: LoadedRun,
    ev: TradeoffEvaluation,
    sweeps: Mapping[str, RobustnessResult],
    noises: Sequence[Noise],
) -> dict[str, dict[str, Any]]:
    """One run's column of every per-run table: ``{table: {row: value}}``."""
    s = ev.summary()  # layers named as in training (hidden1, ..., output)
    rows = {
        "performance": performance_rows(run, s),
        "sparsity": sparsity_rows(s),
        "latency": latency_rows(run, ev, s),
        "convergence": convergence_rows(run),
    }
    for noise in noises:
        mean, std = robustness_rows(noise, sweeps[noise.kind])
        rows[f"robustness_{noise.kind}"] = mean
        rows[f"robustness_{noise.kind}_std"] = std
    return rows


def performance_rows(run: LoadedRun, s: Mapping[str, Any]) -> dict[str, Any]:
    """The run's settings and accuracy (``s``: :meth:`TradeoffEvaluation.summary`)."""
    cfg = run.config
    return {
        "config": cfg.name,
        "loss / readout": f"{cfg.loss} / {run.readout}",
        "sizes": "-".join(str(v) for v in cfg.sizes),
        "max spikes per neuron": ",".join(str(v) for v in cfg.max_spikes),
        "seed": cfg.seed,
        "checkpoint (epoch)": f"{run.checkpoint} ({run.epoch})",
        "epochs trained": len({row["epoch"] for row in run.metrics}),
        "samples evaluated": s["n_samples"],
        "accuracy": s["accuracy"],
        "silent output fraction": s["silent_output_fraction"],
        "label neuron silent fraction": s["label_silent_fraction"],
    }


def sparsity_rows(s: Mapping[str, Any]) -> dict[str, Any]:
    """Spikes, SynOps, silent neurons and dropped spikes per layer."""
    rows: dict[str, Any] = {}
    for layer, v in s["spikes_per_sample"].items():
        rows[f"spikes per sample: {layer}"] = v
    rows["spikes per sample: total"] = s["total_spikes_per_sample"]
    rows["input spikes per sample"] = s["input_spikes_per_sample"]
    for layer, v in s["synops_per_sample"].items():
        rows[f"SynOps per sample: into {layer}"] = v
    rows["SynOps per sample: total"] = s["total_synops_per_sample"]
    for layer, v in s["silent_neuron_fraction"].items():
        rows[f"silent neuron fraction: {layer}"] = v
    for layer, v in s["dropped_spikes_per_sample"].items():
        rows[f"dropped spikes per sample (buffer full): {layer}"] = v
    return rows


def latency_rows(run: LoadedRun, ev: TradeoffEvaluation, s: Mapping[str, Any]) -> dict[str, Any]:
    """Decision-time statistics (ms) over the samples with a decision."""
    dt = ev.decision_time[np.isfinite(ev.decision_time)]
    pct = lambda q: float(np.percentile(dt, q)) * 1e3 if dt.size else math.nan
    return {
        "decision time median (ms)": pct(50),
        "decision time p90 (ms)": pct(90),
        "decision time mean (ms)": float(dt.mean()) * 1e3 if dt.size else math.nan,
        "decision time median, correct samples (ms)": s["decision_time_correct_median_s"] * 1e3,
        "undecided fraction": s["undecided_fraction"],
        "window t_max (ms)": run.config.t_max * 1e3,
    }


def robustness_rows(noise: Noise, res: RobustnessResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(mean, std)`` accuracy rows per level; an overflow row when inputs overflowed."""
    mean = {noise.row(lv): float(m) for lv, m in zip(noise.levels, res.mean, strict=True)}
    std = {noise.row(lv): float(sd) for lv, sd in zip(noise.levels, res.std, strict=True)}
    if np.any(res.n_input_overflow):
        mean["input overflow events (untrustworthy if > 0)"] = int(np.sum(res.n_input_overflow))
    return mean, std


def convergence_rows(run: LoadedRun) -> dict[str, Any]:
    """Epochs to 90 % / 95 % of the run's own final validation accuracy, from its metrics."""
    from snnjax import analysis

    rows: dict[str, Any] = {}
    epochs, val = analysis.accuracy_curve(run.metrics, "validation_accuracy")
    ok = np.isfinite(val)
    if ok.any():
        final = float(val[ok][-1])
        rows["final validation accuracy"] = final
        rows["best validation accuracy"] = float(np.max(val[ok]))
        for frac in (0.9, 0.95):
            rows[f"epochs to {int(frac * 100)}% of final validation accuracy"] = float(
                analysis.epochs_to_accuracy(val, frac * final, epochs)
            )
    rows["epochs trained"] = int(epochs.size)
    if run.results:
        rows["test accuracy at best epoch (results.json)"] = run.results.get("best_test_accuracy")
    return rows


# ------------------------------------------------------------------- across runs


def common_target_row(
    tables: dict[str, Table], runs: Sequence[LoadedRun]
) -> tuple[float | None, str | None]:
    """Add the epochs to a common target to the convergence table; ``(target, row)``.

    The target is 95 % of the lowest best validation accuracy among the runs, so that
    every run reaches it and the epochs compare directly (the best, not the final value: a
    run that degrades late would otherwise set a trivial target).
    """
    from snnjax import analysis

    bests = [
        v
        for v in tables["convergence"].get("best validation accuracy", {}).values()
        if v is not None and math.isfinite(v)
    ]
    if not bests:
        return None, None
    target = 0.95 * min(bests)
    row = f"epochs to validation accuracy {cell(target)} (common target)"
    for r in runs:
        epochs, val = analysis.accuracy_curve(r.metrics, "validation_accuracy")
        value = float(analysis.epochs_to_accuracy(val, target, epochs)) if epochs.size else None
        tables["convergence"].setdefault(row, {})[r.name] = value
    return target, row


def deadline_curves(
    tables: dict[str, Table],
    runs: Sequence[LoadedRun],
    evaluations: Mapping[str, TradeoffEvaluation],
    n_deadlines: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Accuracy versus a decision deadline shared by all runs (up to the longest window);
    fills the ``accuracy_vs_deadline`` table; ``(deadlines [D] s, {run: accuracy [D]})``."""
    from snnjax import analysis

    deadlines = np.linspace(0.0, max(r.config.t_max for r in runs), n_deadlines)
    curves = {}
    for r in runs:
        ev = evaluations[r.name]
        acc = np.asarray(
            analysis.accuracy_vs_deadline(ev.output_times, ev.labels, deadlines, r.readout)
        )
        curves[r.name] = acc
        add_column(
            tables,
            r.name,
            {
                "accuracy_vs_deadline": {
                    cell(d * 1e3): float(a) for d, a in zip(deadlines, acc, strict=True)
                }
            },
        )
    return deadlines, curves


# -------------------------------------------------------------- across training seeds


def _validation_by_epoch(run: LoadedRun) -> dict[int, float]:
    from snnjax import analysis

    epochs, val = analysis.accuracy_curve(run.metrics, "validation_accuracy")
    return dict(zip((int(e) for e in epochs), val, strict=True))


def _spread(per_run: np.ndarray) -> np.ndarray:
    """Sample std over axis 0 (the runs of a group); zeros for a group of one run."""
    return exact_std(per_run, axis=0, ddof=1)


def seed_group_tables(
    tables: dict[str, Table],
    runs: Sequence[LoadedRun],
    groups: Mapping[str, Sequence[str]],
    noise: Mapping[str, Mapping[str, RobustnessResult]],
    noises: Sequence[Noise],
    common_row: str | None,
) -> dict[str, dict[str, Curve]]:
    """Fill ``tables["seeds"]`` / ``["seeds_std"]`` / ``["seeds_n"]`` (mean, std, count over
    each group's runs; columns = group labels) and return the curves over training seeds:
    ``{kind: {group: (levels, mean, std)}}`` for every noise and ``"validation"``:
    ``{group: (epochs, mean, std)}`` on the epochs all the group's runs have."""
    val = {r.name: _validation_by_epoch(r) for r in runs}
    max_epoch = max((e for v in val.values() for e in v), default=0)
    check_epochs = sorted({e for e in (1, 5, 10, 20, max_epoch) if 1 <= e <= max_epoch})
    rows = list(SEED_ROWS) + ([("convergence", common_row)] if common_row else [])
    for t in ("seeds", "seeds_std", "seeds_n"):
        tables[t] = {}
    curves: dict[str, dict[str, Curve]] = {n.kind: {} for n in noises}
    curves["validation"] = {}
    for label, members in groups.items():
        stats: dict[str, Sequence[Any]] = {
            row: [tables[tname].get(row, {}).get(m) for m in members] for tname, row in rows
        }
        for n in noises:  # [runs of the group, levels], each a mean over the noise seeds
            per_run = np.array([noise[n.kind][m].mean for m in members], np.float64)
            stats.update({f"{n.kind} {n.row(lv)}": per_run[:, i] for i, lv in enumerate(n.levels)})
            curves[n.kind][label] = (
                np.asarray(n.levels, np.float64),
                exact_mean(per_run, axis=0),
                _spread(per_run),
            )
        for e in check_epochs:
            stats[f"validation accuracy after epoch {e}"] = [val[m].get(e) for m in members]
        for row, values in stats.items():
            for t, v in zip(("seeds", "seeds_std", "seeds_n"), mean_std(values), strict=True):
                tables[t].setdefault(row, {})[label] = v
        common = sorted(set.intersection(*(set(val[m]) for m in members)))
        if common:
            arr = np.array([[val[m][e] for e in common] for m in members], np.float64)
            curves["validation"][label] = (
                np.array(common, np.float64),
                exact_mean(arr, axis=0),
                _spread(arr),
            )
    return curves
