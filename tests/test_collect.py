"""experiments/results/collect.py renders the docs' result fragments from report files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collect_module():
    spec = importlib.util.spec_from_file_location(
        "collect", ROOT / "experiments" / "results" / "collect.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report_of_one_run(tmp_path, name: str, results: dict, metrics_rows=()):
    """A trade-off report directory naming one run directory that holds ``results`` (and
    ``metrics_rows`` as its metrics.jsonl, when given)."""
    run = tmp_path / name
    run.mkdir()
    (run / "results.json").write_text(json.dumps(results))
    if metrics_rows:
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in metrics_rows))
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text(f"# Trade-off report\n\nRuns: `{name}` = `{run}`\n")
    return report


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip("|").split("|")]


def test_training_fragment_reads_each_runs_results(tmp_path):
    collect = _collect_module()
    results = {
        "config_name": "fashion_mnist",
        "epochs": 15,
        "total_wall_time_s": 5400.0,
        "best_epoch": 12,
        "best_validation_accuracy": 0.8891,
        "best_test_accuracy": 0.8812,
        "spikes_per_sample_total": 1612.5,
        "dropped_spikes_per_sample": {"hidden1": 7000.0, "hidden2": 8000.0, "output": 0.0},
        "data_source": "idx:/usr/share/datasets/fashion-mnist (md5 verified)",
    }
    text = collect.training_fragment(_report_of_one_run(tmp_path, "run-a", results))
    header, _, row = text.splitlines()
    assert header.startswith("| run | config | epochs | wall time (h) | best epoch |")
    cells = _cells(row)
    assert cells[:9] == [
        "run-a",
        "`fashion_mnist`",
        "15",
        "1.50",
        "12",
        "0.8891",
        "0.8812",
        "1612",
        "1.5e+04",
    ]
    assert cells[9].startswith("idx:/usr/share/datasets/fashion-mnist")


def test_training_fragment_counts_spikes_at_the_selected_epoch(tmp_path):
    # A run that collapsed after its best epoch: results.json's spikes are of the final
    # (silent) weights; the table shows the selected epoch's test spikes.
    collect = _collect_module()
    results = {
        "config_name": "mnist_ttfs",
        "epochs": 22,
        "total_wall_time_s": 3600.0,
        "best_epoch": 14,
        "best_validation_accuracy": 0.9752,
        "best_test_accuracy": 0.9754,
        "spikes_per_sample_total": 656.2,
        "dropped_spikes_per_sample": {"hidden1": 3000.0, "output": 0.0},
        "data_source": "idx:../shared/data/mnist (md5 verified)",
    }
    rows = [
        {"epoch": 13, "test": {"spikes_per_sample": {"hidden1": 678.0, "output": 4.7}}},
        {"epoch": 14, "test": {"spikes_per_sample": {"hidden1": 673.6, "output": 3.8}}},
        {"epoch": 15, "test": {"spikes_per_sample": {"hidden1": 664.0, "output": 0.0}}},
    ]
    report = _report_of_one_run(tmp_path, "run-b", results, rows)
    row = collect.training_fragment(report).splitlines()[2]
    assert _cells(row)[7] == "677.4"
