"""Tests of the toy convergence report (snnjax.reports.convergence)."""

from __future__ import annotations

import csv

import jax
import numpy as np
import pytest

from snnjax import analysis
from snnjax.reports.convergence import convergence_report


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv")
    return out, convergence_report(out, n_runs=3, n_steps=5, seed=1, command="test")


def test_summary_matches_the_maps(report):
    _, summary = report
    for readout in ("count", "ttfs"):
        cmap = analysis.convergence_map(readout, n_runs=3, key=jax.random.key(1), n_steps=5)
        s = summary[readout]
        assert s["mean solved"] == pytest.approx(float(np.mean(cmap.solved)))
        assert s["mean final"] == pytest.approx(float(np.mean(cmap.final)))
        assert s["cells with solved >= 0.9"] == pytest.approx(float(np.mean(cmap.solved >= 0.9)))
        assert 0.0 <= s["mean final"] <= s["mean solved"] <= 1.0


def test_files_are_written(report):
    out, summary = report
    text = (out / "report.md").read_text()
    assert "Command: `test`" in text
    assert "3 runs per cell" in text
    assert "5 steps" in text
    for readout in ("count", "ttfs"):
        for value in ("solved", "final"):
            png = out / f"plot_convergence_{readout}_{value}.png"
            assert png.stat().st_size > 1000
            assert png.name in text
            with open(png.with_suffix(".csv"), newline="") as f:
                rows = list(csv.reader(f))
            assert len(rows) == 1 + 13 * 13
    with open(out / "table_convergence_summary.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["measure", "count", "ttfs"]
    assert float(rows[1][1]) == pytest.approx(summary["count"]["mean solved"])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n_runs"):
        convergence_report(tmp_path, n_runs=0)
    with pytest.raises(ValueError, match="n_steps"):
        convergence_report(tmp_path, n_steps=0)


def test_cli_convergence(tmp_path, capsys):
    from snnjax.cli import main

    out = tmp_path / "cli"
    assert main(["convergence", "--out", str(out), "--n-runs", "2", "--steps", "3"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "multi-spike" in printed
    assert "TTFS" in printed
    assert "report.md" in printed
    # the summary once: stdout has the results, stderr only progress
    assert (captured.out + captured.err).count("report.md") == 1
    assert "solved" not in captured.err
    assert "snnjax convergence --out" in (out / "report.md").read_text()
    assert main(["convergence", "--out", str(out), "--n-runs", "0"]) == 2
    assert "n_runs" in capsys.readouterr().err
