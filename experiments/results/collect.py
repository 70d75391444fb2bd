"""Copy the reproduction's outputs into the docs, so that docs/results.md is fed by them.

For every ``NAME=REPORT_DIR`` given (a directory written by ``snnjax tradeoffs`` or
``snnjax convergence``) this copies the selected plots into ``docs/generated/results/NAME/``
and renders Markdown fragments from the report's CSV tables, which ``docs/results.md``
includes with ``--8<-- "docs/generated/results/NAME/<table>.md"``:

* trade-off reports: ``seeds.md`` (mean ± std over training seeds, from ``table_seeds.csv``),
  ``runs.md`` (one row per run: accuracy, spikes, SynOps, decision time, robustness, from
  the per-run CSVs), ``training.md`` (one row per run from its ``results.json``: epochs,
  wall time, best epoch, validation and test accuracy there, spikes per test sample at that
  epoch, dropped spikes per sample, data source) and the plots ``plot_seeds_*``,
  ``plot_accuracy_vs_spikes``, ``plot_accuracy_vs_deadline``, ``plot_decision_times``;
* convergence reports: ``summary.md`` (from ``table_convergence_summary.csv``) and the
  ``solved`` heat maps.

Each fragment starts with the command that produced the report (first ``Command:`` line of
its ``report.md``).

    python experiments/results/collect.py yinyang=runs/tradeoffs-yinyang-seeds \\
        mnist=runs/tradeoffs-mnist-seeds ttfs_family=runs/tradeoffs-ttfs-family \\
        convergence=runs/convergence
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEST = ROOT / "docs" / "generated" / "results"

PER_RUN_ROWS = (
    ("table_performance.csv", "accuracy"),
    ("table_sparsity.csv", "spikes per sample: total"),
    ("table_sparsity.csv", "SynOps per sample: total"),
    ("table_latency.csv", "decision time median (ms)"),
    ("table_latency.csv", "decision time p90 (ms)"),
    ("table_robustness_input_jitter.csv", "5"),
    ("table_robustness_input_deletion.csv", "0.3"),
    ("table_robustness_weight_noise.csv", "0.3"),
)
PER_RUN_LABELS = (
    "accuracy",
    "spikes / sample",
    "SynOps / sample",
    "decision median (ms)",
    "decision p90 (ms)",
    "jitter 5 ms",
    "deletion p=0.3",
    "weight noise 0.3",
)


def _fmt(v: str) -> str:
    try:
        f = float(v)
    except ValueError:
        return v
    if math.isnan(f):
        return "-"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.3g}"
    return f"{f:.4g}"


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _command(report_dir: Path) -> str:
    for line in (report_dir / "report.md").read_text().splitlines():
        if line.startswith("Command:"):
            return line
    return "Command: (not recorded)"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def seeds_fragment(report_dir: Path) -> str:
    """Markdown table ``measure x group`` of ``mean ± std (n)`` from ``table_seeds.csv``."""
    rows = _read(report_dir / "table_seeds.csv")
    groups = [c[: -len(" mean")] for c in rows[0][1::3]]
    body = []
    for r in rows[1:]:
        cells = []
        for i in range(len(groups)):
            m, s, n = r[1 + 3 * i : 4 + 3 * i]
            cells.append(
                "-"
                if not n or n == "0"
                else f"{_fmt(m)} ± {_fmt(s)}"
                if n != "1"
                else f"{_fmt(m)} (one run)"
            )
        body.append([r[0], *cells])
    n_runs = dict(zip(groups, rows[1][3::3], strict=True))
    head = ["measure", *(f"{g} (n={n_runs[g]})" for g in groups)]
    return _table(head, body)


def runs_fragment(report_dir: Path) -> str:
    """Markdown table ``run x measure`` of the headline per-run numbers."""
    cols: dict[str, list[str]] = {}
    names: list[str] = []
    for fname, row in PER_RUN_ROWS:
        table = _read(report_dir / fname)
        header = table[0]
        names = [h for h in header[1:] if not h.endswith(" std")]
        match = [r for r in table[1:] if r[0] == row]
        for name in names:
            v = match[0][header.index(name)] if match else ""
            cols.setdefault(name, []).append(_fmt(v) if v else "-")
    return _table(["run", *PER_RUN_LABELS], [[n, *cols[n]] for n in names])


def _run_dirs(report_dir: Path) -> dict[str, Path]:
    """``{run name: run directory}`` from the report's ``Runs:`` line."""
    for line in (report_dir / "report.md").read_text().splitlines():
        if line.startswith("Runs:"):
            pairs = re.findall(r"`([^`]+)` = `([^`]+)`", line)
            return {name: Path(path) for name, path in pairs}
    return {}


def _best_epoch_spikes(run: Path, res: dict) -> float:
    """Spikes per test sample at the validation-selected epoch (its ``metrics.jsonl`` row;
    ``results.json``'s total, which is of the final weights, when the row lacks them): a
    run that collapsed after its best epoch is described by the weights it is judged on."""
    metrics = run / "metrics.jsonl"
    rows = (
        [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.exists() else []
    )
    for row in rows:
        if row.get("epoch") == res["best_epoch"] and (row.get("test") or {}).get(
            "spikes_per_sample"
        ):
            return float(sum(row["test"]["spikes_per_sample"].values()))
    return float(res["spikes_per_sample_total"])


def training_fragment(report_dir: Path) -> str:
    """Markdown table ``run x training facts`` from each run's ``results.json``."""
    head = [
        "run",
        "config",
        "epochs",
        "wall time (h)",
        "best epoch",
        "validation acc.",
        "test acc. (best epoch)",
        "spikes / sample",
        "dropped / sample",
        "data",
    ]
    body = []
    for name, run in _run_dirs(report_dir).items():
        path = run if run.is_absolute() else ROOT / run
        res = json.loads((path / "results.json").read_text())
        dropped = sum(res["dropped_spikes_per_sample"].values())
        spikes = _best_epoch_spikes(path, res)
        body.append(
            [
                name,
                f"`{res['config_name']}`",
                str(res["epochs"]),
                f"{res['total_wall_time_s'] / 3600:.2f}",
                str(res["best_epoch"]),
                _fmt(str(res["best_validation_accuracy"])),
                _fmt(str(res["best_test_accuracy"])),
                _fmt(str(spikes)),
                _fmt(str(dropped)),
                res["data_source"],
            ]
        )
    return _table(head, body)


def collect(name: str, report_dir: Path) -> list[Path]:
    out = DEST / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    written = []
    cmd = _command(report_dir)
    if (report_dir / "table_convergence_summary.csv").exists():
        rows = _read(report_dir / "table_convergence_summary.csv")
        body = [[r[0], *(_fmt(v) for v in r[1:])] for r in rows[1:]]
        (out / "summary.md").write_text(f"{cmd}\n\n{_table(rows[0], body)}\n")
        pngs = sorted(report_dir.glob("plot_convergence_*_solved.png"))
    else:
        if (report_dir / "table_seeds.csv").exists():
            (out / "seeds.md").write_text(f"{cmd}\n\n{seeds_fragment(report_dir)}\n")
        (out / "runs.md").write_text(f"{cmd}\n\n{runs_fragment(report_dir)}\n")
        if _run_dirs(report_dir):
            (out / "training.md").write_text(training_fragment(report_dir) + "\n")
        pngs = sorted(
            [
                *report_dir.glob("plot_seeds_*.png"),
                *(
                    report_dir / f"plot_{p}.png"
                    for p in ("accuracy_vs_spikes", "accuracy_vs_deadline", "decision_times")
                ),
            ]
        )
    for png in pngs:
        if png.exists():
            shutil.copy2(png, out / png.name)
    written += sorted(out.iterdir())
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+", metavar="NAME=REPORT_DIR")
    args = ap.parse_args(argv)
    for item in args.reports:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path, "report.md").exists():
            ap.error(f"expected NAME=REPORT_DIR with a report.md inside, got {item!r}")
        files = collect(name, Path(path))
        print(f"{name}: {len(files)} files -> {DEST / name}")


if __name__ == "__main__":
    main()
