"""The runs under a folder at a glance (``snnjax runs DIR``): config, epochs, accuracy, status.

Reads only the run files (``config.json``, ``metrics.jsonl``, ``results.json``) and the
names of the checkpoint directories, so it answers in a fraction of a second for hundreds of
runs and imports no JAX. A run's status is one of :data:`STATUSES`:

* ``finished``: every epoch of its config is done and ``results.json`` is written;
* ``resumable``: it has a checkpoint; the same ``snnjax train`` command (``--out`` the
  run) goes on from it;
* ``not started``: a ``config.json`` but no checkpoint yet (a failed or interrupted start;
  the same command starts it again);
* ``broken``: a run file is damaged (the ``problem`` names the file and field).

Checkpoint contents are not read (that is what ``snnjax eval`` verifies, with checksums).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from snnjax.configs import ConfigError
from snnjax.train.rundir import RunDir, RunFileError, best_rows

__all__ = ["STATUSES", "RunSummary", "find_runs", "format_runs", "summarise_run"]

STATUSES = ("finished", "resumable", "not started", "broken")


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One run directory, summarised.

    Attributes:
      path: the run directory.
      status: one of :data:`STATUSES`.
      config: the config's name (``None`` if ``config.json`` is unreadable).
      seed: the config's seed.
      epochs_done: epochs in ``metrics.jsonl``.
      epochs: epochs the config asks for.
      best_epoch: the epoch of the ``best`` checkpoint so far (highest validation accuracy;
        the last epoch without a validation split; ``None`` before the first epoch).
      best_validation_accuracy: its validation accuracy.
      test_accuracy: the test accuracy at that epoch (``results.json``'s
        ``best_test_accuracy`` once finished).
      problem: for ``broken`` runs, what is wrong (the file and field).
    """

    path: Path
    status: str
    config: str | None = None
    seed: int | None = None
    epochs_done: int = 0
    epochs: int | None = None
    best_epoch: int | None = None
    best_validation_accuracy: float | None = None
    test_accuracy: float | None = None
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict (``path`` as a string)."""
        return {**dataclasses.asdict(self), "path": str(self.path)}


def find_runs(root: str | os.PathLike[str], max_depth: int = 3) -> list[Path]:
    """Run directories (those with a ``config.json``) at or below ``root``, sorted.

    Raises:
      FileNotFoundError: ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    return sorted(_walk(root, max_depth))


def _walk(folder: Path, depth: int) -> Iterator[Path]:
    if RunDir(folder).is_run():
        yield folder  # a run's own subfolders (checkpoints/) hold no runs
        return
    if depth == 0:
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.name.startswith("."):
            yield from _walk(child, depth - 1)


def _checkpoint_epochs(run: RunDir) -> list[int]:
    """Epochs with a ``last`` or ``best`` checkpoint directory (contents not read)."""
    epochs = []
    for kind in ("last", "best"):
        folder = run.checkpoints_path / kind
        if folder.is_dir():
            epochs += [int(p.name) for p in folder.iterdir() if p.name.isdigit()]
    return sorted(set(epochs))


def summarise_run(path: str | os.PathLike[str]) -> RunSummary:
    """Summarise one run directory (see the module docstring for the statuses)."""
    run = RunDir(path)
    try:
        config = run.read_config()
        rows = run.read_metrics()
        results = run.read_results(missing_ok=True)
    except (RunFileError, ConfigError, json.JSONDecodeError, OSError) as err:
        return RunSummary(path=run.path, status="broken", problem=str(err))
    best = best_rows(rows)[0] if rows else None
    done = rows[-1]["epoch"] if rows else 0
    if results and done >= config.epochs:
        status = "finished"
    elif _checkpoint_epochs(run):
        status = "resumable"
    else:
        status = "not started"
    test = results.get("best_test_accuracy") if results else None
    if test is None and best is not None:
        test = best.get("test_accuracy")
    return RunSummary(
        path=run.path,
        status=status,
        config=config.name,
        seed=config.seed,
        epochs_done=done,
        epochs=config.epochs,
        best_epoch=None if best is None else best["epoch"],
        best_validation_accuracy=None if best is None else best.get("validation_accuracy"),
        test_accuracy=test,
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def format_runs(summaries: Sequence[RunSummary], root: str | os.PathLike[str] = ".") -> str:
    """A plain-text table of ``summaries``, paths relative to ``root``, problems below it."""
    header = ("run", "config", "seed", "epochs", "best val %", "test % (best)", "status")
    rows = []
    for s in summaries:
        epochs = "-" if s.epochs is None else f"{s.epochs_done}/{s.epochs}"
        at = "" if s.best_epoch is None else f" @{s.best_epoch}"
        rows.append(
            (
                os.path.relpath(s.path, root),
                s.config or "?",
                "-" if s.seed is None else str(s.seed),
                epochs,
                _percent(s.best_validation_accuracy) + at,
                _percent(s.test_accuracy),
                s.status,
            )
        )
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(0, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    lines = [line.rstrip() for line in lines]
    lines += [f"{os.path.relpath(s.path, root)}: {s.problem}" for s in summaries if s.problem]
    return "\n".join(lines)
