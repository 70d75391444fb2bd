"""Plots of the trade-offs (matplotlib): every function writes a PNG **and** a CSV of the
plotted data, and returns both paths (:class:`PlotFiles`).

Figures are drawn with matplotlib's object-oriented API on an Agg canvas
(``matplotlib.figure.Figure``), never through ``pyplot``: nothing depends on or changes the
global backend, so the functions work headless, in scripts, tests and notebooks alike.

``path`` arguments name the PNG (``"out/raster.png"``; a missing suffix is added); the CSV
gets the same name with ``.csv``. Parent folders are created.

* :func:`plot_spike_raster` / :func:`plot_network_raster` — spike raster of one sample
  through the network, one panel per layer;
* :func:`plot_accuracy_vs_spikes` — accuracy versus spikes per sample, one point per run;
* :func:`plot_accuracy_vs_deadline` — accuracy versus decision deadline;
* :func:`plot_decision_times` — distribution of decision times;
* :func:`plot_accuracy_vs_noise` — accuracy (mean ± std over noise seeds) versus noise level;
* :func:`plot_convergence_map` — the toy convergence heat map;
* :func:`plot_training_curves` — metrics from ``metrics.jsonl`` rows versus epoch.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = [
    "PlotFiles",
    "plot_accuracy_vs_deadline",
    "plot_accuracy_vs_noise",
    "plot_accuracy_vs_spikes",
    "plot_convergence_map",
    "plot_decision_times",
    "plot_network_raster",
    "plot_spike_raster",
    "plot_training_curves",
]


class PlotFiles(NamedTuple):
    """Paths written by a plot function."""

    png: Path
    csv: Path


# ------------------------------------------------------------------------- helpers


def _paths(path: str | os.PathLike[str]) -> PlotFiles:
    p = Path(path)
    if p.suffix.lower() != ".png":
        p = p.with_name(p.name + ".png")
    p.parent.mkdir(parents=True, exist_ok=True)
    return PlotFiles(png=p, csv=p.with_suffix(".csv"))


def _figure(n_rows: int = 1, n_cols: int = 1, size=(6.4, 4.2), **kw):
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n_rows, n_cols, squeeze=False, **kw)
    return fig, axes


def _finish(
    fig: Figure, files: PlotFiles, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> PlotFiles:
    fig.savefig(files.png, dpi=120)
    with open(files.csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_fmt(v) for v in row])
    return files


def _fmt(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        return repr(float(v))  # full precision; inf / nan as 'inf' / 'nan'
    if isinstance(v, np.integer):
        return int(v)
    return v


# -------------------------------------------------------------------------- rasters


def plot_spike_raster(
    layer_times: Sequence[Any],
    path,
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
    t_max: float | None = None,
) -> PlotFiles:
    """Spike raster of one sample, one panel per layer (time in ms on the x axis).

    Args:
      layer_times: one array per layer with the trains of **one** sample,
        ``[*neurons, K]`` float (s), ``+inf`` = empty (neurons are flattened row-major).
      path: PNG path.
      names: panel titles (default ``layer 0``, ``layer 1``, ...).
      title: figure title.
      t_max: optional right end of the time axis (s).

    Returns:
      :class:`PlotFiles`; CSV columns ``layer, neuron, time_s`` (one row per spike).
    """
    files = _paths(path)
    trains = [np.asarray(t, np.float64) for t in layer_times]
    if not trains:
        raise ValueError("layer_times is empty")
    names = [f"layer {i}" for i in range(len(trains))] if names is None else list(names)
    if len(names) != len(trains):
        raise ValueError(f"{len(names)} names for {len(trains)} layers")
    heights = [max(1.0, min(4.0, t.reshape(-1, t.shape[-1]).shape[0] / 100)) for t in trains]
    fig, axes = _figure(
        len(trains),
        1,
        size=(7.0, 1.2 + 1.3 * sum(heights)),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
    )
    rows = []
    for ax, name, t in zip(axes[:, 0], names, trains, strict=True):
        flat = t.reshape(-1, t.shape[-1])
        neuron, slot = np.nonzero(np.isfinite(flat))
        times = flat[neuron, slot]
        ax.scatter(
            times * 1e3,
            neuron,
            s=4 if flat.shape[0] > 50 else 12,
            marker="|",
            color="k",
            linewidths=0.8,
        )
        ax.set_ylim(-0.5, flat.shape[0] - 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # indices
        ax.set_ylabel("neuron")
        ax.set_title(f"{name}: {times.size} spikes, {flat.shape[0]} neurons", fontsize=9)
        rows.extend((name, int(n), float(s)) for n, s in zip(neuron, times, strict=True))
    if t_max is not None:
        # a small margin left of 0: spikes at t = 0 (a bias input, white pixels) stay visible
        axes[-1, 0].set_xlim(-0.015e3 * float(t_max), 1e3 * float(t_max))
    axes[-1, 0].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    return _finish(fig, files, ("layer", "neuron", "time_s"), rows)


def plot_network_raster(
    model,
    params,
    sample_input,
    path,
    *,
    title: str | None = None,
    t_max: float | None = None,
    names: Sequence[str] | None = None,
) -> PlotFiles:
    """Run ``model`` on one sample and plot the input and every spiking layer's raster.

    Args:
      model: a :class:`snnjax.nn.SpikingNetwork`.
      params: its parameters.
      sample_input: ``[*input_neurons, K_in]`` one sample's input trains (no batch axis).
      path, title, t_max: as in :func:`plot_spike_raster`.
      names: panel names, ``["input", *one per spiking layer]`` (default: ``input`` and the
        spiking layers' names, ``hidden1 ... output``, :func:`snnjax.nn.spiking_layer_names`).

    Returns:
      :class:`PlotFiles` (CSV columns ``layer, neuron, time_s``).
    """
    from snnjax.analysis.sparsity import layer_names, spiking_layer_indices

    x = np.asarray(sample_input)[None]
    out = model.apply(params, x)
    trains = [x[0]] + [np.asarray(out.layer_times[i])[0] for i in spiking_layer_indices(model)]
    names = ["input", *layer_names(model)] if names is None else list(names)
    if len(names) != len(trains):
        raise ValueError(
            f"names needs {len(trains)} entries (input + spiking layers), got {len(names)}"
        )
    return plot_spike_raster(trains, path, names=names, title=title, t_max=t_max)


# ------------------------------------------------------------------ trade-off curves


def plot_accuracy_vs_spikes(
    spikes: Sequence[float],
    accuracy: Sequence[float],
    path,
    *,
    labels: Sequence[str] | None = None,
    groups: Sequence[str] | None = None,
    xlabel: str = "spikes per sample",
    title: str | None = None,
    annotate: bool = False,
) -> PlotFiles:
    """Accuracy versus activity, one point per run (colour = group, e.g. TTFS / multi-spike).

    Args:
      spikes: ``[R]`` spikes (or SynOps) per sample of each run.
      accuracy: ``[R]`` accuracy of each run (fraction).
      path: PNG path.
      labels: ``[R]`` run names (default ``run0``, ...), written to the CSV.
      groups: ``[R]`` group of each run (default: one group).
      xlabel, title: axis label and title.
      annotate: write each run's label next to its point.

    Returns:
      :class:`PlotFiles`; CSV columns ``run, group, spikes_per_sample, accuracy``.
    """
    files = _paths(path)
    s = np.asarray(spikes, np.float64).reshape(-1)
    a = np.asarray(accuracy, np.float64).reshape(-1)
    if s.shape != a.shape:
        raise ValueError(f"spikes {s.shape} and accuracy {a.shape} differ in length")
    labels = [f"run{i}" for i in range(s.size)] if labels is None else list(labels)
    groups = [""] * s.size if groups is None else list(groups)
    if len(labels) != s.size or len(groups) != s.size:
        raise ValueError("labels and groups need one entry per run")
    fig, axes = _figure()
    ax = axes[0, 0]
    for g in dict.fromkeys(groups):
        sel = np.array([gg == g for gg in groups])
        ax.scatter(s[sel], 100 * a[sel], label=g or None, s=30)
    if annotate:
        for x, y, text in zip(s, a, labels, strict=True):
            ax.annotate(text, (x, 100 * y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if any(groups):
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    rows = zip(labels, groups, s, a, strict=True)
    return _finish(fig, files, ("run", "group", "spikes_per_sample", "accuracy"), rows)


def plot_accuracy_vs_deadline(
    deadlines: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    path,
    *,
    title: str | None = None,
) -> PlotFiles:
    """Accuracy when outputs are truncated at a deadline, one curve per model.

    Args:
      deadlines: ``[D]`` deadlines (s).
      curves: ``{name: [D] accuracy}`` (e.g. from :func:`snnjax.analysis.accuracy_vs_deadline`).
      path: PNG path.
      title: optional title.

    Returns:
      :class:`PlotFiles`; CSV columns ``series, deadline_s, accuracy``.
    """
    files = _paths(path)
    d = np.asarray(deadlines, np.float64).reshape(-1)
    fig, axes = _figure()
    ax = axes[0, 0]
    rows = []
    for name, acc in curves.items():
        a = np.asarray(acc, np.float64).reshape(-1)
        if a.shape != d.shape:
            raise ValueError(f"curve {name!r} has {a.size} points for {d.size} deadlines")
        ax.plot(d * 1e3, 100 * a, marker=".", label=name)
        rows.extend((name, dd, aa) for dd, aa in zip(d, a, strict=True))
    ax.set_xlabel("deadline (ms)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, files, ("series", "deadline_s", "accuracy"), rows)


def plot_decision_times(
    decision_times: Mapping[str, Sequence[float]], path, *, bins: int = 40, title: str | None = None
) -> PlotFiles:
    """Histogram of decision times per model (undecided, ``inf``, samples are not drawn).

    Args:
      decision_times: ``{name: [N] decision times (s)}``.
      path: PNG path.
      bins: histogram bins (shared by all series).
      title: optional title.

    Returns:
      :class:`PlotFiles`; CSV columns ``series, sample, decision_time_s`` (``inf`` kept).
    """
    files = _paths(path)
    data = {k: np.asarray(v, np.float64).reshape(-1) for k, v in decision_times.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in data.values()] or [np.zeros(0)])
    edges = np.histogram_bin_edges(finite * 1e3 if finite.size else [0.0, 1.0], bins=bins)
    fig, axes = _figure()
    ax = axes[0, 0]
    rows = []
    for name, v in data.items():
        ok = np.isfinite(v)
        ax.hist(
            v[ok] * 1e3,
            bins=edges,
            histtype="step",
            linewidth=1.5,
            label=f"{name} (median {np.median(v[ok]) * 1e3:.1f} ms)" if ok.any() else name,
        )
        rows.extend((name, i, t) for i, t in enumerate(v))
    ax.set_xlabel("decision time (ms)")
    ax.set_ylabel("samples")
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(fig, files, ("series", "sample", "decision_time_s"), rows)


def _noise_curve(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    if hasattr(result, "levels"):
        per = getattr(result, "per_seed", None)
        n = int(np.shape(per)[1]) if per is not None else 0
        return (
            np.asarray(result.levels, np.float64),
            np.asarray(result.mean, np.float64),
            np.asarray(result.std, np.float64),
            n,
        )
    levels, mean, std = result[:3]
    return (
        np.asarray(levels, np.float64),
        np.asarray(mean, np.float64),
        np.asarray(std, np.float64),
        0,
    )


def plot_accuracy_vs_noise(
    results: Mapping[str, Any],
    path,
    *,
    xlabel: str = "noise level",
    level_scale: float = 1.0,
    title: str | None = None,
) -> PlotFiles:
    """Accuracy (mean ± std over noise seeds) versus noise level, one curve per model.

    Args:
      results: ``{name: RobustnessResult}`` or ``{name: (levels, mean, std)}``.
      path: PNG path.
      xlabel: x-axis label (e.g. ``"input jitter sigma (ms)"``).
      level_scale: factor applied to the levels on the x axis only (e.g. 1e3 for ms); the
        CSV keeps the original levels.
      title: optional title.

    Returns:
      :class:`PlotFiles`; CSV columns ``series, level, mean_accuracy, std_accuracy, n_seeds``.
    """
    files = _paths(path)
    fig, axes = _figure()
    ax = axes[0, 0]
    rows = []
    for name, res in results.items():
        lv, mean, std, n = _noise_curve(res)
        ax.errorbar(lv * level_scale, 100 * mean, yerr=100 * std, marker="o", capsize=3, label=name)
        rows.extend((name, a, b, c, n) for a, b, c in zip(lv, mean, std, strict=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _finish(
        fig, files, ("series", "level", "mean_accuracy", "std_accuracy", "n_seeds"), rows
    )


def plot_convergence_map(
    cmap: Any, path, *, value: str = "solved", title: str | None = None
) -> PlotFiles:
    """Heat map of the toy convergence experiment (x: mean, y: std of the initial weights).

    Args:
      cmap: a :class:`snnjax.analysis.ConvergenceMap` (values ``[M, S]`` indexed
        ``[i_mean, i_std]``).
      path: PNG path.
      value: which field to draw (``"solved"``, ``"final"``, ``"best_accuracy"``,
        ``"initial"``).
      title: optional title (default: readout and value).

    Returns:
      :class:`PlotFiles`; CSV columns ``mean, std, solved, final, best_accuracy, initial,
      n_runs`` (one row per cell).
    """
    files = _paths(path)
    means, stds = np.asarray(cmap.means), np.asarray(cmap.stds)
    z = np.asarray(getattr(cmap, value), np.float64)
    fig, axes = _figure(size=(5.6, 4.6))
    ax = axes[0, 0]
    step = lambda v: (v[1] - v[0]) if v.size > 1 else 1.0
    extent = (
        means[0] - step(means) / 2,
        means[-1] + step(means) / 2,
        stds[0] - step(stds) / 2,
        stds[-1] + step(stds) / 2,
    )
    im = ax.imshow(
        z.T, origin="lower", extent=extent, aspect="auto", vmin=0, vmax=1, cmap="viridis"
    )
    fig.colorbar(im, ax=ax, label=value.replace("_", " "))
    ax.set_xlabel("mean of initial weights")
    ax.set_ylabel("std of initial weights")
    ax.set_title(title or f"{cmap.readout}: {value.replace('_', ' ')} ({cmap.n_runs} runs/cell)")
    fields = ("solved", "final", "best_accuracy", "initial")
    rows = [
        (means[i], stds[j], *(np.asarray(getattr(cmap, f))[i, j] for f in fields), int(cmap.n_runs))
        for i in range(means.size)
        for j in range(stds.size)
    ]
    return _finish(fig, files, ("mean", "std", *fields, "n_runs"), rows)


def plot_training_curves(
    runs: Mapping[str, Sequence[Mapping[str, Any]]] | Sequence[Mapping[str, Any]],
    path,
    *,
    metrics: Sequence[str] = ("train_accuracy", "validation_accuracy", "test_accuracy"),
    title: str | None = None,
) -> PlotFiles:
    """Metrics versus epoch from ``metrics.jsonl`` rows, one panel per metric.

    Args:
      runs: ``{run_name: rows}`` or the rows of one run; every row is a mapping with
        ``"epoch"`` and the metrics (missing or ``None`` values are skipped; only numeric
        top-level entries are plotted).
      path: PNG path.
      metrics: row keys to plot; accuracies (keys containing ``"accuracy"``) are drawn in %.
      title: optional title.

    Returns:
      :class:`PlotFiles`; CSV columns ``run, epoch, metric, value``.
    """
    files = _paths(path)
    if not isinstance(runs, Mapping):
        runs = {"run": runs}
    metrics = list(metrics)
    if not metrics:
        raise ValueError("metrics is empty")
    fig, axes = _figure(1, len(metrics), size=(4.2 * len(metrics), 3.6), sharex=True)
    rows = []
    for m, ax in zip(metrics, axes[0], strict=True):
        scale = 100.0 if "accuracy" in m else 1.0
        for name, run_rows in runs.items():
            pts = [
                (r["epoch"], float(r[m]))
                for r in run_rows
                if isinstance(r.get(m), (int, float)) and not isinstance(r.get(m), bool)
            ]
            if not pts:
                continue
            e, v = np.array(pts, np.float64).T
            # markers (not bare lines) for short runs: a one-epoch curve is a visible point
            ax.plot(
                e,
                scale * v,
                marker="o" if len(pts) < 40 else None,
                markersize=6 if len(pts) == 1 else 4,
                label=name,
            )
            rows.extend((name, ee, m, vv) for ee, vv in pts)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_ylabel(m.replace("_", " ") + (" (%)" if scale != 1.0 else ""))
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _finish(fig, files, ("run", "epoch", "metric", "value"), rows)
