"""Tests of snnjax.reports.plot: every function writes a non-empty PNG and the CSV of its data."""

from __future__ import annotations

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import analysis
from snnjax.nn import make_dense_network
from snnjax.reports import plot

INF = np.inf
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read(files: plot.PlotFiles) -> tuple[list[str], list[list[str]]]:
    """Check the PNG and return the CSV header and rows."""
    assert files.png.suffix == ".png"
    assert files.csv.suffix == ".csv"
    data = files.png.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 1000
    with open(files.csv, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions save, in order."""
    saved = []
    finish = plot._finish

    def record(fig, *args, **kwargs):
        saved.append(fig)
        return finish(fig, *args, **kwargs)

    monkeypatch.setattr(plot, "_finish", record)
    return saved


def test_spike_raster(tmp_path):
    layers = [np.array([[0.01], [INF], [0.05]]), np.array([[0.02, 0.03, INF], [INF, INF, INF]])]
    files = plot.plot_spike_raster(
        layers, tmp_path / "sub" / "raster", names=["in", "out"], t_max=0.1
    )
    assert files.png == tmp_path / "sub" / "raster.png"
    header, rows = read(files)
    assert header == ["layer", "neuron", "time_s"]
    assert [(r[0], int(r[1]), float(r[2])) for r in rows] == [
        ("in", 0, 0.01),
        ("in", 2, 0.05),
        ("out", 0, 0.02),
        ("out", 0, 0.03),
    ]


def test_raster_neuron_axis_has_integer_ticks(tmp_path, figures):
    # a 3-neuron output layer used to get ticks at -0.5, 0, 0.5, ...: neurons are indices
    layers = [
        np.array([[0.01], [INF], [0.05], [0.2], [0.3]]),
        np.array([[0.02, 0.03, INF], [INF, INF, INF], [0.1, INF, INF]]),
        np.array([[0.04]]),
    ]
    plot.plot_spike_raster(layers, tmp_path / "raster", names=["in", "output", "one"])
    (fig,) = figures
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        ticks = [t for t in ax.get_yticks() if lo <= t <= hi]
        assert ticks
        assert all(float(t).is_integer() for t in ticks), ticks


def test_network_raster(tmp_path):
    net = make_dense_network(
        sizes=(4, 3, 2), thetas=(0.2, 0.2), max_spikes=(2, 2), init=("uniform", 2.0, 4.0)
    )
    x = jnp.array([[0.0], [0.01], [INF], [0.02]])
    params = net.init(jax.random.key(0), x[None])
    _header, rows = read(plot.plot_network_raster(net, params, x, tmp_path / "net.png"))
    out = net.apply(params, x[None])
    n_spikes = 3 + sum(int(np.isfinite(t).sum()) for t in out.layer_times)
    assert n_spikes > 3
    assert len(rows) == n_spikes
    assert {r[0] for r in rows} <= {"input", "hidden1", "output"}


def test_accuracy_vs_spikes(tmp_path):
    files = plot.plot_accuracy_vs_spikes(
        [100, 250, 80],
        [0.9, 0.95, 0.85],
        tmp_path / "a",
        labels=["t1", "m1", "t2"],
        groups=["ttfs", "multi", "ttfs"],
    )
    header, rows = read(files)
    assert header == ["run", "group", "spikes_per_sample", "accuracy"]
    assert rows[1][:2] == ["m1", "multi"]
    assert float(rows[1][3]) == 0.95
    with pytest.raises(ValueError, match="differ in length"):
        plot.plot_accuracy_vs_spikes([1, 2], [0.5], tmp_path / "bad")


def test_accuracy_vs_deadline_and_decision_times(tmp_path):
    d = [0.0, 0.05, 0.1, INF]
    header, rows = read(
        plot.plot_accuracy_vs_deadline(
            d, {"ttfs": [0.0, 0.5, 0.9, 0.9], "multi": [0.0, 0.2, 0.8, 0.95]}, tmp_path / "d"
        )
    )
    assert header == ["series", "deadline_s", "accuracy"]
    assert len(rows) == 8
    assert rows[3] == ["ttfs", "inf", "0.9"]
    header, rows = read(
        plot.plot_decision_times(
            {"ttfs": [0.01, 0.02, INF], "multi": [0.03, 0.05, 0.04]}, tmp_path / "dt"
        )
    )
    assert header == ["series", "sample", "decision_time_s"]
    assert len(rows) == 6
    assert rows[2] == ["ttfs", "2", "inf"]


def test_accuracy_vs_noise(tmp_path):
    res = analysis.RobustnessResult(
        kind="input_jitter",
        levels=np.array([0.0, 0.001]),
        mean=np.array([0.9, 0.8]),
        std=np.array([0.0, 0.05]),
        per_seed=np.zeros((2, 5)),
        n_input_overflow=np.zeros((2, 5), int),
        n_samples=10,
        readout="count",
    )
    files = plot.plot_accuracy_vs_noise(
        {"multi": res, "ttfs": ([0.0, 0.001], [0.8, 0.5], [0.0, 0.1])},
        tmp_path / "n.png",
        xlabel="jitter (ms)",
        level_scale=1e3,
    )
    header, rows = read(files)
    assert header == ["series", "level", "mean_accuracy", "std_accuracy", "n_seeds"]
    assert rows[1] == ["multi", "0.001", "0.8", "0.05", "5"]
    assert rows[3][0] == "ttfs"
    assert float(rows[3][2]) == 0.5


def test_convergence_map_plot(tmp_path):
    cmap = analysis.ConvergenceMap(
        readout="count",
        means=np.array([0.0, 0.2, 0.4]),
        stds=np.array([0.0, 0.2]),
        solved=np.array([[0.0, 0.1], [0.5, 0.6], [1.0, 0.9]]),
        final=np.zeros((3, 2)),
        best_accuracy=np.ones((3, 2)),
        initial=np.zeros((3, 2)),
        n_runs=4,
    )
    header, rows = read(plot.plot_convergence_map(cmap, tmp_path / "c"))
    assert header == ["mean", "std", "solved", "final", "best_accuracy", "initial", "n_runs"]
    assert len(rows) == 6
    cell = {(float(r[0]), float(r[1])): float(r[2]) for r in rows}
    assert cell[(0.4, 0.2)] == pytest.approx(0.9)
    assert cell[(0.2, 0.0)] == pytest.approx(0.5)


def test_training_curves(tmp_path):
    rows_a = [
        {"epoch": 1, "train_accuracy": 0.5, "validation_accuracy": 0.4, "test": None},
        {"epoch": 2, "train_accuracy": 0.7, "validation_accuracy": None},
    ]
    rows_b = [{"epoch": 1, "train_accuracy": 0.6, "validation_accuracy": 0.6}]
    header, rows = read(
        plot.plot_training_curves(
            {"a": rows_a, "b": rows_b},
            tmp_path / "curves",
            metrics=("train_accuracy", "validation_accuracy"),
        )
    )
    assert header == ["run", "epoch", "metric", "value"]
    assert rows == [
        ["a", "1", "train_accuracy", "0.5"],
        ["a", "2", "train_accuracy", "0.7"],
        ["b", "1", "train_accuracy", "0.6"],
        ["a", "1", "validation_accuracy", "0.4"],
        ["b", "1", "validation_accuracy", "0.6"],
    ]
    # One run's rows directly.
    header, rows = read(plot.plot_training_curves(rows_a, tmp_path / "one"))
    assert len(rows) == 3


def test_training_curves_of_one_epoch_draw_markers(tmp_path, figures):
    # a one-epoch run is one point per metric: it must show as a marker, not a bare dot
    rows = [{"epoch": 1, "train_accuracy": 0.5, "validation_accuracy": 0.4}]
    plot.plot_training_curves(
        {
            "one": rows,
            "two": rows + [{"epoch": 2, "train_accuracy": 0.6, "validation_accuracy": 0.5}],
        },
        tmp_path / "curves",
        metrics=("train_accuracy", "validation_accuracy"),
    )
    (fig,) = figures
    for ax in fig.axes:
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"one", "two"}
        for line in lines.values():
            assert line.get_marker() == "o"
            assert line.get_markersize() >= 4
        assert lines["one"].get_markersize() > lines["two"].get_markersize()
        # whole epochs on the x axis
        lo, hi = ax.get_xlim()
        assert all(float(t).is_integer() for t in ax.get_xticks() if lo <= t <= hi)
