"""The paper's toy convergence experiment as a report (``snnjax convergence``, SPEC §6-7).

:func:`convergence_report` computes :func:`snnjax.analysis.convergence_map` for the
multi-spike (count) and the TTFS readout on the same grid of initial-weight means and
standard deviations, with the same random draws (common random numbers), and writes into
``out_dir``:

* ``report.md``: settings, a summary table per readout and the heat maps;
* ``plot_convergence_<readout>_<value>.png`` + ``.csv`` for ``value`` in ``solved`` (the
  map of the paper: share of runs that classify both toy samples correctly at some point of
  training) and ``final`` (correct after the last step);
* ``table_convergence_summary.csv``: the summary table.

Example:
  >>> from snnjax.reports.convergence import convergence_report
  >>> summary = convergence_report("runs/convergence", n_runs=100)  # doctest: +SKIP
  >>> summary["count"]["mean solved"], summary["ttfs"]["mean solved"]  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from snnjax._command import invoked_command
from snnjax.readouts import get_readout

__all__ = ["convergence_report"]

READOUTS = tuple((name, get_readout(name).label) for name in ("count", "ttfs"))
"""``(readout, label)`` of the paper's two toy problems (labels from :mod:`snnjax.readouts`)."""


def _summary(cmap) -> dict[str, float]:
    """Grid-wide numbers of one :class:`snnjax.analysis.ConvergenceMap`."""
    solved, final = np.asarray(cmap.solved), np.asarray(cmap.final)
    return {
        "mean solved": float(solved.mean()),
        "mean final": float(final.mean()),
        "mean initial (untrained)": float(np.asarray(cmap.initial).mean()),
        "cells with solved >= 0.9": float((solved >= 0.9).mean()),
        "cells with solved >= 0.5": float((solved >= 0.5).mean()),
        "cells with final >= 0.9": float((final >= 0.9).mean()),
    }


def convergence_report(
    out_dir: str | os.PathLike[str],
    *,
    n_runs: int = 100,
    n_steps: int | None = None,
    seed: int = 0,
    command: str | None = None,
    log=None,
) -> dict[str, dict[str, float]]:
    """Toy convergence maps of both readouts, side by side, written into ``out_dir``.

    Args:
      out_dir: directory for ``report.md``, the heat maps (PNG + CSV) and the summary CSV.
      n_runs: weight initialisations per grid cell (the paper: 100).
      n_steps: gradient steps per run (default: the paper's 50).
      seed: seed of the standard-normal draws shared by all cells and both readouts.
      command: the command line recorded in the report (default: ``sys.argv``).
      log: ``print``-like progress callback (default: silent).

    Returns:
      ``{readout: {measure: value}}`` with ``readout`` in ``count``, ``ttfs`` and the
      measures of the summary table (fractions in [0, 1] over the 13 x 13 grid).

    Raises:
      ValueError: ``n_runs < 1`` or ``n_steps < 1``.
    """
    from snnjax import analysis

    log = log or (lambda _msg: None)
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs}")
    overrides: dict[str, Any] = {}
    if n_steps is not None:
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        overrides["n_steps"] = int(n_steps)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if command is None:
        command = invoked_command()
    t_start = time.perf_counter()
    maps = _measure(n_runs, seed, overrides, log)
    summaries = {readout: _summary(cmap) for readout, cmap in maps.items()}
    _write_maps(maps, out, n_runs)
    _write_summary_csv(summaries, out)
    problem = analysis.toy_problem("count", **overrides)
    (out / "report.md").write_text(
        _markdown(
            maps,
            summaries,
            problem,
            n_runs=n_runs,
            seed=seed,
            command=command,
            seconds=time.perf_counter() - t_start,
        )
    )
    log(f"report written ({time.perf_counter() - t_start:.1f} s)")
    return summaries


def _measure(n_runs: int, seed: int, overrides: dict[str, Any], log) -> dict[str, Any]:
    """``{readout: ConvergenceMap}`` for both readouts, with the same draws."""
    from snnjax import analysis

    maps = {}
    for readout, _label in READOUTS:
        t0 = time.perf_counter()
        maps[readout] = analysis.convergence_map(
            readout, n_runs=n_runs, key=jax.random.key(seed), **overrides
        )
        log(f"{readout}: convergence map ({time.perf_counter() - t0:.1f} s)")
    return maps


def _write_maps(maps: dict[str, Any], out: Path, n_runs: int) -> None:
    """The heat maps ``plot_convergence_<readout>_<value>.png`` (+ CSV)."""
    from snnjax.reports import plot

    for readout, label in READOUTS:
        for value in ("solved", "final"):
            plot.plot_convergence_map(
                maps[readout],
                out / f"plot_convergence_{readout}_{value}.png",
                value=value,
                title=f"{label}: {value} ({n_runs} runs/cell)",
            )


def _write_summary_csv(summaries: dict[str, dict[str, float]], out: Path) -> None:
    names = [r for r, _ in READOUTS]
    with open(out / "table_convergence_summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["measure", *names])
        for measure in summaries["count"]:
            w.writerow([measure, *(repr(summaries[r][measure]) for r in names)])


def _markdown(
    maps: dict[str, Any],
    summaries: dict[str, dict[str, float]],
    problem,
    *,
    n_runs: int,
    seed: int,
    command: str,
    seconds: float,
) -> str:
    """The text of ``report.md``: settings, the summary table, the maps."""
    names = [r for r, _ in READOUTS]
    md = [
        "# Toy convergence map (Bacho & Chu 2023, SPEC §6)",
        "",
        f"Command: `{command}`",
        "",
        "Two samples that differ only in the order of two input spikes, one layer of 4 "
        "inputs -> 2 LIF neurons, plain gradient descent "
        f"(lr {problem.lr}, {problem.n_steps} steps) from "
        f"w ~ N(mu, sigma); {n_runs} runs per cell on the grid mu, sigma in "
        f"{{{', '.join(f'{v:g}' for v in maps['count'].means)}}}; the same standard-normal "
        f"draws (seed {seed}) for every cell and both readouts. See "
        "`snnjax.analysis.convergence` for the exact settings.",
        "",
        "*solved*: share of runs that classify both samples correctly at some point of "
        "training (the paper's map); *final*: correct after the last step; *initial*: "
        "correct before training. Silent outputs count as wrong (the authors' readout "
        "maps them to class 0).",
        "",
        f"Wall time: {seconds:.1f} s.",
        "",
        "## Summary over the grid",
        "",
        "| measure | " + " | ".join(label for _, label in READOUTS) + " |",
        "|---|" + "---|" * len(READOUTS),
    ]
    md += [
        f"| {measure} | " + " | ".join(f"{summaries[r][measure]:.3f}" for r in names) + " |"
        for measure in summaries["count"]
    ]
    md += ["", "CSV: `table_convergence_summary.csv`", "", "## Maps", ""]
    for readout, label in READOUTS:
        for value in ("solved", "final"):
            png = f"plot_convergence_{readout}_{value}.png"
            md += [
                f"### {label}: {value}",
                "",
                f"![{readout} {value}]({png}) (data: `{png[:-4]}.csv`)",
                "",
            ]
    return "\n".join(md)
