"""The files of a run directory (written by :func:`snnjax.train.train`), in one place.

::

    config.json      the full config                   RunDir.read_config / write_config
    run.json         data provenance, layer names, ...  RunDir.read_run_info / write_run_info
    metrics.jsonl    one JSON object per epoch          RunDir.read_metrics / write_metrics
    results.json     the summary of a finished run      RunDir.read_results / write_results
    checkpoints/     Orbax checkpoints                  RunDir.checkpoints_path

Every write is atomic (a temporary file beside the target, then ``os.replace``), so a
reader never sees half a file written by these functions. ``metrics.jsonl`` has one
tolerant reader, :func:`read_jsonl`: a truncated *last* line (a line cut by an
interruption, e.g. by a tool that appends) is skipped with a warning; a corrupt line
anywhere else is an error. Every reader checks the file against its schema
(:mod:`snnjax.train.schema`: required fields and their types; ``config.json`` must hold
every field of a config). Errors name the file (and the line, and the field).

Example:
  >>> from snnjax.train import RunDir
  >>> run = RunDir("runs/yy")  # doctest: +SKIP
  >>> run.read_config().name, len(run.read_metrics())  # doctest: +SKIP
  ('yinyang_multispike', 300)
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from snnjax.configs import ConfigError, ExperimentConfig, config_from_dict, config_to_dict
from snnjax.train import schema
from snnjax.train.schema import RunFileError

__all__ = ["RunDir", "RunFileError", "read_json", "read_jsonl", "write_json", "write_jsonl"]


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through ``<path>.tmp`` and ``os.replace``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write ``data`` as indented JSON (and a final newline), atomically."""
    _atomic_write(Path(path), json.dumps(data, indent=2) + "\n")


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON object from ``path``.

    Raises:
      FileNotFoundError: no such file (the message names it).
      RunFileError: not valid JSON or not an object.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found") from None
    except UnicodeDecodeError as err:
        raise RunFileError(f"{path} is not a text file ({err})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RunFileError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise RunFileError(f"{path} holds a JSON {type(data).__name__}, not an object")
    return data


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Write one compact JSON object per line, atomically (the whole file is replaced)."""
    _atomic_write(Path(path), "".join(json.dumps(row) + "\n" for row in rows))


def read_jsonl(path: str | os.PathLike[str], *, missing_ok: bool = True) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, one per non-empty line.

    Args:
      path: the file.
      missing_ok: return ``[]`` for a missing file (default) instead of raising.

    Returns:
      The rows in file order. A last line that is not valid JSON (cut by an interruption)
      is left out, with a ``RuntimeWarning`` naming the file and line.

    Raises:
      FileNotFoundError: no such file and not ``missing_ok``.
      RunFileError: a line before the last is not valid JSON, or a line is not an object.
    """
    return [row for _, row in _read_jsonl_numbered(Path(path), missing_ok, stacklevel=3)]


def _read_jsonl_numbered(
    path: Path, missing_ok: bool, stacklevel: int = 2
) -> list[tuple[int, dict[str, Any]]]:
    """:func:`read_jsonl` with each row's line number: ``[(line, row), ...]``."""
    if not path.exists():
        if missing_ok:
            return []
        raise FileNotFoundError(f"{path} not found")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise RunFileError(f"{path} is not a text file ({err})") from err
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    rows = []
    for k, (lineno, line) in enumerate(numbered):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if k == len(numbered) - 1:
                warnings.warn(
                    f"{path}, line {lineno}: truncated (not valid JSON: {err.msg}); skipped",
                    RuntimeWarning,
                    stacklevel=stacklevel,
                )
                break
            raise RunFileError(
                f"{path}, line {lineno}: not valid JSON ({err}); only the "
                "last line may be cut by an interruption"
            ) from err
        if not isinstance(row, dict):
            raise RunFileError(f"{path}, line {lineno}: a JSON {type(row).__name__}, not an object")
        rows.append((lineno, row))
    return rows


class RunDir:
    """The files of one run directory: their paths, readers and atomic writers.

    Args:
      path: the run directory (need not exist yet; writers expect it to exist).
    """

    CONFIG = "config.json"
    RUN_INFO = "run.json"
    METRICS = "metrics.jsonl"
    RESULTS = "results.json"
    CHECKPOINTS = "checkpoints"

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    @property
    def config_path(self) -> Path:
        """``<run>/config.json``."""
        return self.path / self.CONFIG

    @property
    def run_info_path(self) -> Path:
        """``<run>/run.json``."""
        return self.path / self.RUN_INFO

    @property
    def metrics_path(self) -> Path:
        """``<run>/metrics.jsonl``."""
        return self.path / self.METRICS

    @property
    def results_path(self) -> Path:
        """``<run>/results.json``."""
        return self.path / self.RESULTS

    @property
    def checkpoints_path(self) -> Path:
        """``<run>/checkpoints`` (see :class:`snnjax.train.RunCheckpoints`)."""
        return self.path / self.CHECKPOINTS

    def is_run(self) -> bool:
        """Whether the directory holds a run (it has a ``config.json``)."""
        return self.config_path.is_file()

    # -------------------------------------------------------------------- config.json

    def read_config_dict(self) -> dict[str, Any]:
        """``config.json`` as a dict.

        Raises:
          FileNotFoundError: no ``config.json`` ("not a snnjax run directory").
          RunFileError: ``config.json`` is not a JSON object.
        """
        if not self.config_path.exists():
            raise FileNotFoundError(f"{self.path} is not a snnjax run directory (no {self.CONFIG})")
        return read_json(self.config_path)

    def read_config(self) -> ExperimentConfig:
        """``config.json`` as an :class:`~snnjax.configs.ExperimentConfig`.

        Raises:
          FileNotFoundError: as :meth:`read_config_dict`.
          RunFileError: not a JSON object, a missing field (every field of a config is
            required), a field of the wrong type, an unknown field or an invalid setting;
            the message names the file and the field.
        """
        data = self.read_config_dict()
        schema.check_config(data, str(self.config_path))
        try:
            return config_from_dict(data)
        except ConfigError as err:
            raise RunFileError(f"{self.config_path}: {err}") from err

    def write_config(self, config: ExperimentConfig | Mapping[str, Any]) -> None:
        """Write ``config.json`` (a config or its dict)."""
        data = config_to_dict(config) if isinstance(config, ExperimentConfig) else config
        write_json(self.config_path, data)

    # ----------------------------------------------------------------------- run.json

    def read_run_info(self) -> dict[str, Any]:
        """``run.json``, or ``{}`` when absent (runs of older versions).

        Raises:
          RunFileError: not a JSON object, or a field missing or of the wrong type.
        """
        if not self.run_info_path.exists():
            return {}
        info = read_json(self.run_info_path)
        schema.check_fields(
            info, schema.RUN_INFO, str(self.run_info_path), schema.RUN_INFO_OPTIONAL
        )
        return info

    def write_run_info(self, info: Mapping[str, Any]) -> None:
        """Write ``run.json``."""
        write_json(self.run_info_path, info)

    # ------------------------------------------------------------------ metrics.jsonl

    def read_metrics(self, *, complete: bool = False) -> list[dict[str, Any]]:
        """The rows of ``metrics.jsonl`` (``[]`` when absent), see :func:`read_jsonl`.

        Args:
          complete: require every field the training loop writes in a row (it reads the
            rows back on resume); otherwise only ``epoch`` is required.

        Raises:
          RunFileError: a corrupt line, a row without an integer ``epoch >= 1``, epochs
            not increasing, or (``complete``) a field missing or of the wrong type; the
            message names the file, the line and the field.
        """
        rows = _read_jsonl_numbered(self.metrics_path, missing_ok=True, stacklevel=3)
        required = schema.METRICS_ROW if complete else {"epoch": "int"}
        previous = 0
        for lineno, row in rows:
            where = f"{self.metrics_path}, line {lineno}"
            schema.check_fields(
                row, required, where, {**schema.METRICS_ROW, **schema.METRICS_ROW_OPTIONAL}
            )
            if row["epoch"] <= previous:
                raise RunFileError(
                    f"{where}: field 'epoch' must be >= 1 and larger than the "
                    f"previous row's ({previous}), got {row['epoch']}"
                )
            previous = row["epoch"]
        return [row for _, row in rows]

    def write_metrics(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace ``metrics.jsonl`` by ``rows``, atomically."""
        write_jsonl(self.metrics_path, rows)

    # ------------------------------------------------------------------- results.json

    def read_results(self, *, missing_ok: bool = False) -> dict[str, Any]:
        """``results.json`` (written when the last epoch is done).

        Args:
          missing_ok: return ``{}`` for a run that has not finished instead of raising.

        Raises:
          FileNotFoundError: no ``results.json`` and not ``missing_ok``.
          RunFileError: not a JSON object, or a field missing or of the wrong type.
        """
        if missing_ok and not self.results_path.exists():
            return {}
        results = read_json(self.results_path)
        schema.check_fields(
            results, schema.RESULTS, str(self.results_path), schema.RESULTS_OPTIONAL
        )
        return results

    def write_results(self, results: Mapping[str, Any]) -> None:
        """Write ``results.json``."""
        write_json(self.results_path, results)


def best_rows(history: list[dict[str, Any]]) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """The validation-selected row of ``metrics.jsonl`` rows (``history``, non-empty).

    Returns:
      ``(best row, selected_by, max-test row or None)``: the row of highest
      ``validation_accuracy`` (the earliest of equals; ``selected_by="validation"``), or the
      last row when no row has one (``"final epoch (no validation split)"``) — the epoch of
      the ``best`` checkpoint; and the row of highest ``test_accuracy``, reported only.
    """
    with_val = [r for r in history if r.get("validation_accuracy") is not None]
    if with_val:
        best = max(with_val, key=lambda r: (r["validation_accuracy"], -r["epoch"]))
        selected_by = "validation"
    else:
        best, selected_by = history[-1], "final epoch (no validation split)"
    with_test = [r for r in history if r.get("test_accuracy") is not None]
    max_test = (
        max(with_test, key=lambda r: (r["test_accuracy"], -r["epoch"])) if with_test else None
    )
    return best, selected_by, max_test
