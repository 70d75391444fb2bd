"""Trade-off report: trained runs compared side by side (``snnjax tradeoffs``, SPEC §7).

:func:`tradeoff_report` loads every run directory written by :func:`snnjax.train.train`
(config, checkpoint, ``metrics.jsonl``), re-encodes its data split exactly as in training
(:func:`snnjax.train.prepare_data`) and measures, with :mod:`snnjax.analysis`:

* performance: accuracy on the split (equal to ``snnjax eval`` on the same checkpoint);
* sparsity / energy: spikes and synaptic operations per sample per layer, silent neurons;
* latency: decision time (median, p90) with the run's readout (``count`` loss -> spike
  count, ``ttfs`` loss -> first spike), accuracy versus a decision deadline;
* robustness: accuracy under input jitter, input deletion and weight noise (all noise
  seeds evaluated in one compiled call per level set: ``jax.vmap`` over the seeds on
  accelerators, ``lax.map`` on CPU, see :func:`snnjax.analysis.robustness_sweep`);
* convergence: epochs to reach 90 % / 95 % of the run's own final validation accuracy, and
  epochs to reach a common target (95 % of the lowest best validation accuracy of all
  runs compared), which compares runs of different final accuracy directly;
* across training seeds: runs that differ only in their seed (:func:`seed_groups`) are
  summarised as mean ± std over the group (the paper's claims need several seeds).

It writes into ``out_dir``: ``report.md`` (one table per measure, runs as columns), one CSV
per table (``table_<name>.csv``, first column the row label, then one column per run) and
one PNG + CSV per plot (``plot_<name>.png``/``.csv``, from :mod:`snnjax.reports.plot`).

Example:
  >>> from snnjax.reports.tradeoffs import tradeoff_report
  >>> tables = tradeoff_report(["runs/yy_count", "runs/yy_ttfs"], "runs/report")  # doctest: +SKIP
  >>> tables["performance"]["accuracy"]                                          # doctest: +SKIP
  {'yy_count': 0.928, 'yy_ttfs': 0.959}
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from snnjax._command import invoked_command

__all__ = [
    "DELETION_LEVELS",
    "JITTER_LEVELS_S",
    "WEIGHT_NOISE_LEVELS",
    "LoadedRun",
    "load_trained_run",
    "seed_groups",
    "tradeoff_report",
]

JITTER_LEVELS_S = (0.0, 0.001, 0.002, 0.005, 0.010, 0.020)
"""Input jitter sigmas (s): 0, 1, 2, 5, 10, 20 ms."""
DELETION_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Input spike deletion probabilities."""
WEIGHT_NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Relative sigmas of multiplicative Gaussian weight noise."""
N_DEADLINES = 41

_NOISES = (("input_jitter", JITTER_LEVELS_S, "input jitter sigma (ms)", 1e3),
           ("input_deletion", DELETION_LEVELS, "input deletion probability", 1.0),
           ("weight_noise", WEIGHT_NOISE_LEVELS, "relative weight noise sigma", 1.0))


@dataclasses.dataclass
class LoadedRun:
    """A trained run, ready to evaluate.

    Attributes:
      name: display name (the directory name, made unique).
      run_dir: the directory.
      config: its :class:`snnjax.configs.ExperimentConfig`.
      model: the network (the same object ``snnjax eval`` uses).
      params: the checkpoint's parameters (``model.apply({"params": params}, x)``).
      epoch: the checkpoint's epoch.
      readout: the readout's name, the config's ``loss`` (:mod:`snnjax.readouts`).
      input_times, labels: the evaluated split (first ``n_samples``).
      metrics: the rows of ``metrics.jsonl``.
      results: ``results.json`` (empty if the run has not finished).
    """

    name: str
    run_dir: Path
    config: Any
    model: Any
    params: Any
    epoch: int
    readout: str
    input_times: np.ndarray
    labels: np.ndarray
    metrics: list[dict[str, Any]]
    results: dict[str, Any]


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory")
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a snnjax run directory (no config.json)")
    if not (run_dir / "checkpoints").is_dir():
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ (was it trained?)")


def load_trained_run(run_dir: str | os.PathLike[str], *, data_dir=None, split: str = "test",
                     n_samples: int | None = None, checkpoint: str = "best",
                     name: str | None = None) -> LoadedRun:
    """Load a run's config, checkpoint parameters and data split (encoded as in training).

    Raises:
      FileNotFoundError: not a run directory, no checkpoint, or image data missing.
      ValueError: bad ``checkpoint``, ``split`` or ``n_samples``; an invalid ``config.json``.
    """
    from snnjax.configs import ConfigError
    from snnjax.readouts import get_readout
    from snnjax.train import RunDir, RunFileError, load_run, prepare_data, restore_run

    if checkpoint not in ("last", "best"):
        raise ValueError(f"checkpoint must be 'last' or 'best', got {checkpoint!r}")
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
    if n_samples is not None and n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    run = Path(run_dir)
    _check_run_dir(run)
    try:
        config, run_info = load_run(run)
    except (RunFileError, TypeError, KeyError, ConfigError) as err:
        raise ValueError(f"{run}/config.json is not a valid snnjax config: {err}") from err
    data = prepare_data(config, data_dir, splits=(split,))
    ds = getattr(data, split)
    if len(ds) == 0:
        raise ValueError(f"the {split!r} split of {run} is empty")
    restored = restore_run(run, config, run_info, data, checkpoint)
    n = len(ds) if n_samples is None else min(int(n_samples), len(ds))
    files = RunDir(run)
    return LoadedRun(
        name=name or run.resolve().name, run_dir=run, config=config, model=restored.model,
        params=restored.params, epoch=restored.epoch,
        readout=get_readout(config.loss).name,
        input_times=np.asarray(ds.times[:n]), labels=np.asarray(ds.labels[:n]),
        metrics=files.read_metrics(), results=files.read_results(missing_ok=True))


# ------------------------------------------------------------------------ formatting


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "never" if f > 0 else "-inf"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.3g}"
    return f"{f:.4g}"


def _md_table(table: dict[str, dict[str, Any]], names: Sequence[str], first: str) -> str:
    lines = ["| " + " | ".join([first, *names]) + " |",
             "|" + "---|" * (len(names) + 1)]
    for row, vals in table.items():
        lines.append("| " + " | ".join([row, *(_fmt(vals.get(n)) for n in names)]) + " |")
    return "\n".join(lines)


def _write_csv(path: Path, table: dict[str, dict[str, Any]], names: Sequence[str],
               first: str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([first, *names])
        for row, vals in table.items():
            out = []
            for n in names:
                v = vals.get(n)
                out.append("" if v is None else (repr(float(v)) if isinstance(v, float) else v))
            w.writerow([row, *out])


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for p in paths:
        base = p.resolve().name
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


# ------------------------------------------------------------- across training seeds

# Rows of the per-run tables summarised over the runs of a group (table, row label).
_SEED_ROWS = (("performance", "accuracy"),
              ("sparsity", "spikes per sample: total"),
              ("sparsity", "SynOps per sample: total"),
              ("latency", "decision time median (ms)"),
              ("latency", "decision time p90 (ms)"),
              ("latency", "undecided fraction"),
              ("convergence", "test accuracy at best epoch (results.json)"),
              ("convergence", "best validation accuracy"),
              ("convergence", "epochs to 90% of final validation accuracy"),
              ("convergence", "epochs to 95% of final validation accuracy"))


def seed_groups(configs: Sequence[Any], names: Sequence[str]) -> dict[str, list[str]]:
    """Group runs whose configs differ only in the seed (the same experiment, trained again).

    Args:
      configs: each run's :class:`snnjax.configs.ExperimentConfig`.
      names: the runs' display names (same order).

    Returns:
      ``{group_label: [run names]}`` in first-seen order. The label is the config name, plus
      ``key=value`` for the fields that tell apart groups sharing a config name (e.g.
      ``yinyang_ttfs (thetas=0.4,0.3)``).
    """
    from snnjax.configs import config_to_dict

    keyed: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for cfg, name in zip(configs, names, strict=True):
        d = config_to_dict(cfg)
        d.pop("seed", None)
        key = json.dumps(d, sort_keys=True, default=str)
        keyed.setdefault(key, (d, []))[1].append(name)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for d, _ in keyed.values():
        by_name.setdefault(d["name"], []).append(d)
    out: dict[str, list[str]] = {}
    for d, members in keyed.values():
        label = d["name"]
        siblings = by_name[d["name"]]
        if len(siblings) > 1:
            differ = sorted(k for k in d if k != "description"
                            and any(o.get(k) != d[k] for o in siblings))

            def show(v):
                if isinstance(v, (list, tuple)):
                    return ",".join(show(x) for x in v)
                return _fmt(v) if isinstance(v, float) else str(v)

            label += " (" + ", ".join(f"{k}={show(d[k])}" for k in differ) + ")"
        out[label] = members
    return out


def _mean_std(values: Sequence[Any]) -> tuple[float, float, int]:
    """Mean, sample std (ddof 1; 0 for one value) and count of the finite values."""
    v = np.array([float(x) for x in values if x is not None], np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def _pm(mean: float, std: float, n: int) -> str:
    if n == 0:
        return "-"
    return f"{_fmt(mean)} ± {_fmt(std)} (n={n})" if n > 1 else f"{_fmt(mean)} (n=1)"


def _seed_group_summary(tables, runs, names, groups, noise, common_row: str | None, out: Path
                        ) -> dict[str, Path]:
    """Fill ``tables["seeds"]`` / ``["seeds_std"]`` / ``["seeds_n"]`` (mean, std, count over
    each group's runs, columns = group labels), plot the robustness and validation curves
    with their spread over training seeds and write ``table_seed_groups.csv``; returns the
    plots' PNG paths."""
    from snnjax import analysis
    from snnjax.reports import plot

    plots: dict[str, Path] = {}
    labels = list(groups)
    for t in ("seeds", "seeds_std", "seeds_n"):
        tables[t] = {}

    def put_group(row: str, label: str, values: Sequence[Any]) -> None:
        m, sd, n = _mean_std(values)
        for t, v in (("seeds", m), ("seeds_std", sd), ("seeds_n", n)):
            tables[t].setdefault(row, {})[label] = v

    max_epoch = max((int(e) for r in runs for e in analysis.accuracy_curve(
        r.metrics, "validation_accuracy")[0]), default=0)
    check_epochs = sorted({e for e in (1, 5, 10, 20, max_epoch) if 1 <= e <= max_epoch})
    # [runs of the group, levels] mean accuracy over the noise seeds, per noise kind
    per_run_noise = {kind: {label: np.array([noise[kind][n].mean for n in members], np.float64)
                            for label, members in groups.items()} for kind, *_ in _NOISES}
    curve_plot: dict[str, tuple] = {}
    seed_rows = list(_SEED_ROWS) + ([("convergence", common_row)] if common_row else [])
    for label, members in groups.items():
        for tname, row in seed_rows:
            put_group(row, label, [tables[tname].get(row, {}).get(n) for n in members])
        for kind, levels, _label, scale in _NOISES:
            for i, lv in enumerate(levels):
                put_group(f"{kind} {_fmt(lv * scale)}", label, per_run_noise[kind][label][:, i])
        vals = {}
        for n in members:
            ep, va = analysis.accuracy_curve(runs[names.index(n)].metrics,
                                             "validation_accuracy")
            vals[n] = dict(zip((int(e) for e in ep), va, strict=True))
        for e in check_epochs:
            put_group(f"validation accuracy after epoch {e}", label,
                      [vals[n].get(e) for n in members])
        common = sorted(set.intersection(*(set(v) for v in vals.values())))
        if common:
            arr = np.array([[vals[n][e] for e in common] for n in members], np.float64)
            curve_plot[label] = (np.array(common, np.float64), arr.mean(0),
                                 arr.std(0, ddof=1) if len(members) > 1
                                 else np.zeros(len(common)))
    for kind, levels, xlabel, scale in _NOISES:
        curves = {}
        for label, members in groups.items():
            per_run = per_run_noise[kind][label]
            curves[label] = (np.asarray(levels, np.float64), per_run.mean(0),
                             per_run.std(0, ddof=1) if len(members) > 1
                             else np.zeros(len(levels)))
        plots[f"seeds_accuracy_vs_{kind}"] = plot.plot_accuracy_vs_noise(
            curves, out / f"plot_seeds_accuracy_vs_{kind}.png", xlabel=xlabel,
            level_scale=scale, title="mean ± std over training seeds").png
    if curve_plot:
        plots["seeds_validation_curves"] = plot.plot_accuracy_vs_noise(
            curve_plot, out / "plot_seeds_validation_curves.png", xlabel="epoch",
            title="validation accuracy, mean ± std over training seeds").png
    _write_csv(out / "table_seed_groups.csv",
               {"runs": {g: " ".join(m) for g, m in groups.items()}}, labels, "group")
    return plots


# ---------------------------------------------------------------------------- report


def tradeoff_report(run_dirs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str],
                    *, data_dir: str | os.PathLike[str] | None = None, split: str = "test",
                    n_samples: int | None = None, noise_seeds: int = 20,
                    checkpoint: str = "best", command: str | None = None,
                    key: int = 0, log=None) -> dict[str, dict[str, dict[str, Any]]]:
    """Compare trained runs side by side and write a report into ``out_dir``.

    Args:
      run_dirs: run directories written by :func:`snnjax.train.train` (``snnjax train``).
      out_dir: where ``report.md``, the table CSVs and the plots (PNG + CSV) go.
      data_dir: directory with the IDX files (image datasets).
      split: ``"test"`` (default), ``"validation"`` or ``"train"``.
      n_samples: evaluate the first ``n_samples`` of the split only (default: all).
      noise_seeds: noise seeds per robustness level (evaluated together in one compiled call).
      checkpoint: ``"best"`` (validation-selected, default) or ``"last"``.
      command: the command line recorded in the report (default: ``sys.argv``).
      key: seed of the noise draws (the same for every run: common random numbers).
      log: ``print``-like progress callback (default: silent).

    Returns:
      ``{table_name: {row_label: {run_name: value}}}`` — the tables of the report:
      ``performance``, ``sparsity``, ``latency``, ``accuracy_vs_deadline``,
      ``robustness_input_jitter``, ``robustness_input_deletion``,
      ``robustness_weight_noise`` (mean accuracy; ``<run> std`` columns in the CSV and
      ``*_std`` tables) and ``convergence``; when some runs differ only in their seed
      (:func:`seed_groups`) also ``seeds`` / ``seeds_std`` / ``seeds_n``: mean, std and
      count over each group's runs (columns = group labels) of accuracy, spikes, SynOps,
      decision time, robustness per level and convergence.

    Raises:
      FileNotFoundError: a run directory is missing / not a run / has no checkpoint.
      ValueError: no run given, bad options, an invalid run.
    """
    from snnjax import analysis
    from snnjax.reports import plot
    from snnjax.train import spiking_layer_names

    log = log or (lambda _msg: None)
    if not run_dirs:
        raise ValueError("give at least one run directory")
    if noise_seeds < 1:
        raise ValueError(f"noise_seeds must be >= 1, got {noise_seeds}")
    paths = [Path(p) for p in run_dirs]
    for p in paths:
        _check_run_dir(p)
    names = _unique_names(paths)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    tables: dict[str, dict[str, dict[str, Any]]] = {
        k: {} for k in ("performance", "sparsity", "latency", "accuracy_vs_deadline",
                        "robustness_input_jitter", "robustness_input_jitter_std",
                        "robustness_input_deletion", "robustness_input_deletion_std",
                        "robustness_weight_noise", "robustness_weight_noise_std",
                        "convergence")}

    def put(table: str, row: str, name: str, value: Any) -> None:
        tables[table].setdefault(row, {})[name] = value

    runs: list[LoadedRun] = []
    evals: dict[str, Any] = {}
    noise: dict[str, dict[str, Any]] = {kind: {} for kind, *_ in _NOISES}
    for path, name in zip(paths, names, strict=True):
        t0 = time.perf_counter()
        r = load_trained_run(path, data_dir=data_dir, split=split, n_samples=n_samples,
                             checkpoint=checkpoint, name=name)
        runs.append(r)
        cfg = r.config
        params = {"params": r.params}
        ev = analysis.evaluate_tradeoffs(r.model, params, r.input_times, r.labels, r.readout,
                                         batch_size=cfg.eval_batch_size)
        evals[name] = ev
        s = ev.summary()  # layers named as in training (hidden1, ..., output)
        # performance
        put("performance", "config", name, cfg.name)
        put("performance", "loss / readout", name, f"{cfg.loss} / {r.readout}")
        put("performance", "sizes", name, "-".join(str(v) for v in cfg.sizes))
        put("performance", "max spikes per neuron", name,
            ",".join(str(v) for v in cfg.max_spikes))
        put("performance", "seed", name, cfg.seed)
        put("performance", "checkpoint (epoch)", name, f"{checkpoint} ({r.epoch})")
        put("performance", "epochs trained", name, len({row["epoch"] for row in r.metrics}))
        put("performance", "samples evaluated", name, s["n_samples"])
        put("performance", "accuracy", name, s["accuracy"])
        put("performance", "silent output fraction", name, s["silent_output_fraction"])
        put("performance", "label neuron silent fraction", name, s["label_silent_fraction"])
        # sparsity
        for layer, v in s["spikes_per_sample"].items():
            put("sparsity", f"spikes per sample: {layer}", name, v)
        put("sparsity", "spikes per sample: total", name, s["total_spikes_per_sample"])
        put("sparsity", "input spikes per sample", name, s["input_spikes_per_sample"])
        for layer, v in s["synops_per_sample"].items():
            put("sparsity", f"SynOps per sample: into {layer}", name, v)
        put("sparsity", "SynOps per sample: total", name, s["total_synops_per_sample"])
        for layer, v in s["silent_neuron_fraction"].items():
            put("sparsity", f"silent neuron fraction: {layer}", name, v)
        for layer, v in s["dropped_spikes_per_sample"].items():
            put("sparsity", f"dropped spikes per sample (buffer full): {layer}", name, v)
        # latency
        dt = ev.decision_time[np.isfinite(ev.decision_time)]
        pct = (lambda q, dt=dt: float(np.percentile(dt, q)) * 1e3 if dt.size else math.nan)
        put("latency", "decision time median (ms)", name, pct(50))
        put("latency", "decision time p90 (ms)", name, pct(90))
        put("latency", "decision time mean (ms)", name,
            float(dt.mean()) * 1e3 if dt.size else float("nan"))
        put("latency", "decision time median, correct samples (ms)", name,
            s["decision_time_correct_median_s"] * 1e3)
        put("latency", "undecided fraction", name, s["undecided_fraction"])
        put("latency", "window t_max (ms)", name, cfg.t_max * 1e3)
        # robustness
        for kind, levels, _label, scale in _NOISES:
            t1 = time.perf_counter()
            res = analysis.robustness_sweep(kind, r.model, params, r.input_times, r.labels,
                                            list(levels), noise_seeds, key, r.readout)
            noise[kind][name] = res
            for lv, m, sd in zip(levels, res.mean, res.std, strict=True):
                row = _fmt(lv * scale)
                put(f"robustness_{kind}", row, name, float(m))
                put(f"robustness_{kind}_std", row, name, float(sd))
            if np.any(res.n_input_overflow):
                put(f"robustness_{kind}", "input overflow events (untrustworthy if > 0)",
                    name, int(np.sum(res.n_input_overflow)))
            log(f"  {name}: {kind} sweep {time.perf_counter() - t1:.1f} s")
        # convergence
        epochs, val = analysis.accuracy_curve(r.metrics, "validation_accuracy")
        ok = np.isfinite(val)
        if ok.any():
            final = float(val[ok][-1])
            put("convergence", "final validation accuracy", name, final)
            put("convergence", "best validation accuracy", name, float(np.max(val[ok])))
            for frac in (0.9, 0.95):
                e = float(analysis.epochs_to_accuracy(val, frac * final, epochs))
                put("convergence", f"epochs to {int(frac * 100)}% of final validation "
                    "accuracy", name, e)
        put("convergence", "epochs trained", name, int(epochs.size))
        if r.results:
            put("convergence", "test accuracy at best epoch (results.json)", name,
                r.results.get("best_test_accuracy"))
        log(f"{name}: accuracy {s['accuracy']:.4f} on {s['n_samples']} {split} samples "
            f"({time.perf_counter() - t0:.1f} s)")

    # convergence to a common absolute target: 95 % of the lowest best validation accuracy
    # among the runs, so that every run reaches it and the epochs compare directly (the best,
    # not the final value: a run that degrades late would otherwise set a trivial target)
    bests = [v for v in tables["convergence"].get("best validation accuracy", {}).values()
             if v is not None and math.isfinite(v)]
    common_target = 0.95 * min(bests) if bests else None
    common_row = None
    if common_target is not None:
        common_row = f"epochs to validation accuracy {_fmt(common_target)} (common target)"
        for r in runs:
            epochs, val = analysis.accuracy_curve(r.metrics, "validation_accuracy")
            put("convergence", common_row, r.name,
                float(analysis.epochs_to_accuracy(val, common_target, epochs))
                if epochs.size else None)

    # accuracy vs deadline: shared deadlines, up to the longest window
    t_end = max(r.config.t_max for r in runs)
    deadlines = np.linspace(0.0, t_end, N_DEADLINES)
    curves = {}
    for r in runs:
        ev = evals[r.name]
        acc = np.asarray(analysis.accuracy_vs_deadline(ev.output_times, ev.labels, deadlines,
                                                       r.readout))
        curves[r.name] = acc
        for d, a in zip(deadlines, acc, strict=True):
            put("accuracy_vs_deadline", _fmt(d * 1e3), r.name, float(a))

    # runs whose configs differ only in the seed form a group (colours of the scatter plots,
    # mean ± std section below); without such groups each point is labelled with its run
    groups = seed_groups([r.config for r in runs], names)
    labels = list(groups)
    with_seeds = any(len(m) > 1 for m in groups.values())
    group_of = {n: g for g, members in groups.items() for n in members}

    # plots
    plots: dict[str, Path] = {}
    acc = [tables["performance"]["accuracy"][n] for n in names]
    colours = [group_of[n] if with_seeds else r.readout for n, r in zip(names, runs, strict=True)]
    for key_, row, xlabel in (("spikes", "spikes per sample: total",
                               "spikes per sample (all spiking layers)"),
                              ("synops", "SynOps per sample: total",
                               "synaptic operations per sample")):
        plots[f"accuracy_vs_{key_}"] = plot.plot_accuracy_vs_spikes(
            [tables["sparsity"][row][n] for n in names], acc,
            out / f"plot_accuracy_vs_{key_}.png", labels=names, groups=colours,
            xlabel=xlabel, annotate=not with_seeds).png
    plots["accuracy_vs_deadline"] = plot.plot_accuracy_vs_deadline(
        deadlines, curves, out / "plot_accuracy_vs_deadline.png").png
    plots["decision_times"] = plot.plot_decision_times(
        {n: evals[n].decision_time for n in names}, out / "plot_decision_times.png").png
    for kind, _levels, label, scale in _NOISES:
        plots[f"accuracy_vs_{kind}"] = plot.plot_accuracy_vs_noise(
            noise[kind], out / f"plot_accuracy_vs_{kind}.png", xlabel=label,
            level_scale=scale).png
    plots["training_curves"] = plot.plot_training_curves(
        {r.name: r.metrics for r in runs}, out / "plot_training_curves.png").png
    for r in runs:  # the first sample of the split through each network
        plots[f"raster_{r.name}"] = plot.plot_network_raster(
            r.model, {"params": r.params}, r.input_times[0], out / f"plot_raster_{r.name}.png",
            title=f"{r.name}: {split} sample 0 (label {int(r.labels[0])})",
            t_max=r.config.t_max, names=["input", *spiking_layer_names(r.model)]).png

    # across training seeds
    if with_seeds:
        plots.update(_seed_group_summary(tables, runs, names, groups, noise, common_row, out))

    # tables -> CSV
    firsts = {"accuracy_vs_deadline": "deadline_ms",
              "robustness_input_jitter": "sigma_ms", "robustness_input_deletion": "p",
              "robustness_weight_noise": "relative_sigma"}
    for tname, table in tables.items():
        base = tname.removesuffix("_std")
        first = firsts.get(base, "measure")
        if tname.endswith("_std") or tname == "seeds_n":
            continue
        if tname == "seeds":
            merged = {row: {**{f"{g} mean": v for g, v in vals.items()},
                            **{f"{g} std": v for g, v in tables["seeds_std"][row].items()},
                            **{f"{g} n": v for g, v in tables["seeds_n"][row].items()}}
                      for row, vals in table.items()}
            cols = [f"{g} {c}" for g in labels for c in ("mean", "std", "n")]
            _write_csv(out / "table_seeds.csv", merged, cols, "measure")
            continue
        if tname in firsts and tname.startswith("robustness"):
            std = tables[f"{tname}_std"]
            merged = {row: {**vals, **{f"{n} std": v for n, v in std.get(row, {}).items()}}
                      for row, vals in table.items()}
            cols = [c for n in names for c in (n, f"{n} std")]
            _write_csv(out / f"table_{tname}.csv", merged, cols, first)
        else:
            _write_csv(out / f"table_{tname}.csv", table, names, first)

    # report.md
    if command is None:
        command = invoked_command()
    n_eval = {n: tables["performance"]["samples evaluated"][n] for n in names}
    md = [f"# Trade-off report: {', '.join(names)}", "",
          f"Command: `{command}`", "",
          f"Data: `{split}` split, samples evaluated per run: "
          + ", ".join(f"{n} {v}" for n, v in n_eval.items())
          + f"; checkpoint: `{checkpoint}`; noise seeds per level: {noise_seeds} "
          f"(noise key {key}, the same draws for every run).", "",
          "Runs: " + ", ".join(f"`{n}` = `{p}`" for n, p in zip(names, paths, strict=True)),
          "", f"Wall time: {time.perf_counter() - t_start:.1f} s.", ""]
    sections = [
        ("Performance", "performance", "measure",
         "Accuracy of the checkpoint on the split (silent outputs count as wrong); the "
         "readout follows the loss (count loss: most spikes; ttfs loss: first spike)."),
        ("Sparsity / energy", "sparsity", "measure",
         "Per sample, averaged over the split. SynOps = each spike x its fan-out (the "
         "spikes arriving at a layer). Silent neuron = no spike on any evaluated sample. "
         "Dropped spikes: spikes after a neuron's buffer is full (not counted above); with "
         "one slot per neuron (TTFS) that is by design."),
        ("Latency", "latency", "measure",
         "Decision time: earliest time after which the prediction from the outputs "
         "truncated at that time equals the final prediction (TTFS: the first output "
         "spike); over samples with a decision."),
        ("Accuracy vs deadline", "accuracy_vs_deadline", "deadline (ms)",
         "Accuracy when every output spike after the deadline is removed."),
        ("Robustness: input jitter", "robustness_input_jitter", "sigma (ms)",
         "Mean accuracy over the noise seeds; Gaussian jitter of the input spike times "
         "(std over seeds in the CSV / table below)."),
        ("Robustness: input deletion", "robustness_input_deletion", "p",
         "Mean accuracy over the noise seeds; each input spike deleted with probability p."),
        ("Robustness: weight noise", "robustness_weight_noise", "relative sigma",
         "Mean accuracy over the noise seeds; every weight w -> w (1 + sigma eps)."),
        ("Convergence", "convergence", "measure",
         "From metrics.jsonl: first epoch whose validation accuracy reaches 90 % / 95 % of "
         "the run's own final (last-epoch) validation accuracy, and first epoch reaching "
         "the common target (95 % of the lowest best validation accuracy among the runs)."),
    ]
    for title, tname, first, note in sections:
        md += [f"## {title}", "", note, "", _md_table(tables[tname], names, first), "",
               f"CSV: `table_{tname}.csv`", ""]
        if tname.startswith("robustness"):
            md += ["Std over seeds:", "", _md_table(tables[f"{tname}_std"], names, first), ""]
    if with_seeds:
        pm = {row: {g: _pm(m, tables["seeds_std"][row][g], tables["seeds_n"][row][g])
                    for g, m in vals.items()} for row, vals in tables["seeds"].items()}
        md += ["## Across training seeds", "",
               "Runs whose configs differ only in the seed are one group: "
               + "; ".join(f"**{g}** = " + ", ".join(f"`{n}`" for n in m)
                           for g, m in groups.items()) + ".",
               "", "Mean ± sample std over the group's runs (n = runs with a value). "
               "Robustness rows: accuracy at that noise level (jitter in ms), each run's "
               "value itself a mean over the noise seeds.", "",
               _md_table(pm, labels, "measure"), "", "CSV: `table_seeds.csv`", ""]
    md += ["## Plots", ""]
    for pname, png in plots.items():
        md += [f"### {pname.replace('_', ' ')}", "",
               f"![{pname}]({png.name}) (data: `{png.with_suffix('.csv').name}`)", ""]
    (out / "report.md").write_text("\n".join(md))
    log(f"report: {out / 'report.md'} ({time.perf_counter() - t_start:.1f} s)")
    return tables
