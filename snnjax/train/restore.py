"""Reading a finished (or interrupted) run back: its config, a checkpoint, an evaluation.

:func:`load_run` reads a run directory's ``config.json`` and ``run.json``;
:func:`restore_run` rebuilds the model exactly as trained (same input-event bound) and
restores a checkpoint; :func:`evaluate_run` evaluates it on one split.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from snnjax.configs import ExperimentConfig
from snnjax.lif.backends import EventBackend
from snnjax.train.bounds import Bounds, grown_bounds, input_slots, recorded_bounds
from snnjax.train.checkpoint import RunCheckpoints
from snnjax.train.data import DataSplits
from snnjax.train.evaluation import evaluate
from snnjax.train.loop import _compiled, _init_state, input_event_bound
from snnjax.train.model import spiking_layer_names
from snnjax.train.provenance import load_run_data
from snnjax.train.rundir import RunDir

__all__ = [
    "CHECKPOINTS",
    "DEFAULT_CHECKPOINT",
    "RestoredRun",
    "load_run",
    "restore_run",
    "evaluate_run",
]

#: The checkpoints a run keeps: ``"best"`` (the epoch of highest validation accuracy; the
#: last epoch when the run has no validation split) and ``"last"``.
CHECKPOINTS = ("best", "last")
#: The checkpoint that evaluation, restoring and the reports use unless told otherwise: the
#: validation-selected one, whose test accuracy ``results.json`` reports as
#: ``best_test_accuracy``.
DEFAULT_CHECKPOINT = "best"


def load_run(run_dir: str | os.PathLike[str]) -> tuple[ExperimentConfig, dict[str, Any]]:
    """``(config, run_info)`` of a run directory written by :func:`snnjax.train.train`.

    Raises:
      FileNotFoundError: ``run_dir`` has no ``config.json``.
    """
    run = RunDir(run_dir)
    return run.read_config(), run.read_run_info()


class RestoredRun(NamedTuple):
    """A checkpoint of a run, ready to evaluate (see :func:`restore_run`)."""

    model: Any
    eval_step: Any
    params: Any
    epoch: int
    bounds: Bounds = ()  # input-event bound of each spiking layer (None = every slot)


def _check_best_is_complete(run_dir, ckpts: RunCheckpoints) -> None:
    """Raise if the newest ``last`` checkpoint names a best epoch newer than ``best``'s
    (the run was interrupted between saving ``last/<epoch>`` and ``best/<epoch>``)."""
    last = ckpts.latest_epoch("last")
    best_epoch = None if last is None else ckpts.meta("last", last).get("best_epoch")
    have = ckpts.latest_epoch("best")
    if best_epoch is not None and have is not None and best_epoch > have:
        raise FileNotFoundError(
            f"{run_dir}: checkpoints/best/{best_epoch} is missing: epoch {best_epoch} is the "
            f"best one (checkpoint last/{last} says so) and its save was interrupted (or is "
            "under way); run the same snnjax train command to complete it, or evaluate "
            f"--checkpoint last (best/{have} is an earlier epoch)"
        )


def restore_run(
    run_dir: str | os.PathLike[str],
    config: ExperimentConfig,
    run_info: dict[str, Any],
    data: DataSplits,
    checkpoint: str = DEFAULT_CHECKPOINT,
    backend: str | EventBackend | None = None,
) -> RestoredRun:
    """Rebuild a run's model (with the event bound it was trained with) and restore a checkpoint.

    Args:
      run_dir: directory written by :func:`snnjax.train.train`; ``config, run_info``
        from :func:`load_run`.
      data: the encoded splits (their input shape, and the event bound if the run has none).
      checkpoint: ``"best"`` (validation-selected; the default) or ``"last"``.
      backend: event backend of the rebuilt model (as in :func:`snnjax.train.train`).

    Raises:
      FileNotFoundError: the run has no such checkpoint, or its best checkpoint is not
        there yet (its save was interrupted: the same ``snnjax train`` command completes
        it).
      CheckpointError: the checkpoint is damaged.
    """
    n = config.n_spiking_layers
    bounds = recorded_bounds(run_info, n)
    if bounds is None:  # run.json of the first versions: the first layer's from the data
        bounds = (input_event_bound(config, data),) + (None,) * (n - 1)
    compiled = _compiled(config, bounds, 1, backend=backend)
    like = _init_state(compiled, data.input_shape, config.seed)
    ckpts = RunCheckpoints(RunDir(run_dir).checkpoints_path, read_only=True)
    try:
        if ckpts.latest_epoch(checkpoint) is None:
            raise FileNotFoundError(f"{run_dir} has no {checkpoint!r} checkpoint")
        if checkpoint == "best":
            _check_best_is_complete(run_dir, ckpts)
        state, meta = ckpts.restore(checkpoint, like)
    finally:
        ckpts.close()
    return RestoredRun(
        model=compiled.model,
        eval_step=compiled.eval_step,
        params=state.params,
        epoch=int(meta["epoch"]),
        bounds=bounds,
    )


def evaluate_run(
    run_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    checkpoint: str = DEFAULT_CHECKPOINT,
    split: str = "test",
    data: DataSplits | None = None,
    backend: str | EventBackend | None = None,
) -> dict[str, Any]:
    """Evaluate a checkpoint of a run on one split.

    Args:
      run_dir: directory written by :func:`snnjax.train.train`.
      data_dir: directory with the IDX files (image datasets); default: the directory the
        run recorded (:mod:`snnjax.train.provenance`), else the loader's usual search.
      checkpoint: ``"best"`` (validation-selected; the default) or ``"last"``.
      split: ``"test"``, ``"validation"`` or ``"train"``.
      data: pre-encoded splits (default: loaded from the run's config).
      backend: event backend (as in :func:`snnjax.train.train`; all give the same results up
        to float rounding).

    A split whose events exceed the bounds the run recorded is evaluated again with larger
    bounds (:func:`snnjax.train.bounds.grown_bounds`), so the result is exact.

    Returns:
      The :func:`snnjax.train.evaluate` dict plus ``"epoch"``, ``"checkpoint"``,
      ``"split"``, ``"config_name"``, ``"data_source"`` and ``"max_spikes"`` (buffer per layer).

    Raises:
      FileNotFoundError: no run or no checkpoint there; image data not found.
      ValueError: bad ``checkpoint`` or ``split``.
    """
    if checkpoint not in CHECKPOINTS:
        raise ValueError(f"checkpoint must be 'best' or 'last', got {checkpoint!r}")
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
    config, run_info = load_run(run_dir)
    if data is None:
        data = load_run_data(run_dir, config, run_info, data_dir, splits=(split,))
    while True:  # events beyond a recorded bound: evaluate again with larger bounds
        restored = restore_run(run_dir, config, run_info, data, checkpoint, backend)
        names = spiking_layer_names(restored.model)
        result = evaluate(
            restored.eval_step, restored.params, getattr(data, split), config.eval_batch_size, names
        )
        if result is None:
            raise ValueError(f"the {split!r} split of {config.name} is empty")
        overflow = list(result["input_overflow_max"].values())
        grown = grown_bounds(restored.bounds, overflow, input_slots(config))
        if grown is None:
            break
        run_info = {**run_info, "input_event_bounds": list(grown)}
    result.update(
        {
            "epoch": restored.epoch,
            "checkpoint": checkpoint,
            "split": split,
            "config_name": config.name,
            "data_source": data.source,
            "max_spikes": dict(zip(names, config.max_spikes, strict=True)),
        }
    )
    return result
