"""Where a run's data came from, recorded at training and found again afterwards.

``snnjax train`` records in ``run.json`` the directory its data files were read from
(``data_dir``, absolute) and the md5 of each file's decompressed payload (``data_files``).
:func:`load_run_data` — used by :func:`snnjax.train.evaluate_run` and the trade-off
reports — loads a run's data from that directory when no ``data_dir`` is given, and
refuses data whose files differ from the recorded ones, so that ``snnjax eval RUN`` and
``snnjax tradeoffs RUN`` need no ``--data-dir`` and never evaluate on other data unawares.
An explicit ``data_dir`` still takes precedence (the data moved); its files are checked
against the record all the same.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from snnjax.configs import ExperimentConfig
from snnjax.train.data import DataSplits, prepare_data

__all__ = ["DataMismatchError", "data_record", "load_run_data", "recorded_data_dir"]

logger = logging.getLogger(__name__)


class DataMismatchError(ValueError):
    """A data file has the name of a file the run was trained on but other content."""


def data_record(data: DataSplits) -> dict[str, Any]:
    """The ``run.json`` fields that record ``data``'s files.

    Returns:
      ``{"data_dir": str | None, "data_files": {absolute path: md5}}``; ``data_dir`` is the
      directory holding the files (``None`` for generated data, tensorflow-datasets, or
      files in several directories).
    """
    files = dict(data.files)
    dirs = {os.path.dirname(path) for path in files}
    return {"data_dir": dirs.pop() if len(dirs) == 1 else None, "data_files": files}


def recorded_data_dir(
    run_info: dict[str, Any], data_dir: str | os.PathLike[str] | None
) -> str | os.PathLike[str] | None:
    """The directory to load a run's data from: ``data_dir`` if given, else the recorded
    one if it still exists, else ``None`` (the loader's usual search)."""
    if data_dir is not None:
        return data_dir
    recorded = run_info.get("data_dir")
    if recorded and os.path.isdir(recorded):
        return recorded
    if recorded:
        logger.warning(
            "the run's data directory %s is gone; searching the usual places "
            "(pass --data-dir / data_dir= to point at a copy)",
            recorded,
        )
    return None


def check_data_files(run_info: dict[str, Any], data: DataSplits, where: str) -> None:
    """Raise if a file of ``data`` has the name of a recorded file but another md5.

    Files of other names (e.g. the real EMNIST Balanced files where the run was trained on
    the ByMerge stand-in) are logged, not refused: that is a deliberate choice of data.

    Raises:
      DataMismatchError: names the file, the recorded and the actual md5, and the fix.
    """
    recorded = {os.path.basename(p): (p, md5) for p, md5 in run_info.get("data_files", {}).items()}
    if not recorded:
        return
    for path, md5 in data.files:
        name = os.path.basename(path)
        if name in recorded and recorded[name][1] != md5:
            raise DataMismatchError(
                f"{path} is not the file {where} was trained on: md5 {md5}, but the run "
                f"recorded md5 {recorded[name][1]} for {recorded[name][0]}; point --data-dir "
                "(data_dir=) at a copy of the original data"
            )
    names = {os.path.basename(p) for p, _ in data.files}
    if data.files and not names & set(recorded):
        logger.warning(
            "%s was trained on %s; evaluating on other files: %s",
            where,
            ", ".join(sorted(recorded)),
            ", ".join(sorted(names)),
        )


def load_run_data(
    run_dir: str | os.PathLike[str],
    config: ExperimentConfig,
    run_info: dict[str, Any],
    data_dir: str | os.PathLike[str] | None = None,
    splits: tuple[str, ...] = ("test",),
) -> DataSplits:
    """Load and encode a run's data as it was trained on (see the module docstring).

    Args:
      run_dir: the run directory (named in messages); ``config, run_info`` from
        :func:`snnjax.train.load_run`.
      data_dir: overrides the recorded directory.
      splits: the splits to encode.

    Raises:
      FileNotFoundError: the data is nowhere to be found.
      DataMismatchError: a file differs from the one the run recorded.
    """
    data = prepare_data(config, recorded_data_dir(run_info, data_dir), splits=splits)
    check_data_files(run_info, data, str(run_dir))
    return data
