"""Training: data pipeline, jitted steps, the epoch loop, checkpoints and results.

The pieces, each usable alone:

* :func:`prepare_data` — load and encode a config's dataset once (train / validation /
  test splits of input spike times).
* :func:`build_model`, :func:`init_params` — the config's :class:`snnjax.nn.SpikingNetwork`.
* :func:`make_optimizer`, :func:`make_loss_fn`, :func:`make_train_step`,
  :func:`make_eval_step` — Optax Adam (schedules, clipping) and jitted steps;
  :func:`make_input_augmentation` — the config's training-input augmentation (elastic).
* :func:`data_mesh`, :func:`replicate`, :func:`shard_batch` — data-parallel training
  over devices (pass ``mesh=`` to the step factories, or ``devices=`` to :func:`train`).
* :func:`train` — the epoch loop: progress bar, ``metrics.jsonl``, Orbax checkpoints with
  resume (also after a kill at any instant), ``results.json``; :func:`evaluate` — one
  split; :func:`load_run`, :func:`restore_run`, :func:`evaluate_run` — read a saved run.
* :class:`RunDir` — the files of a run directory (config, run info, metrics, results):
  paths, readers (one tolerant ``metrics.jsonl`` reader; each file checked against its
  schema, :class:`RunFileError`) and atomic writers.
* :class:`RunCheckpoints` — the ``last`` and ``best`` checkpoints, each with a checksum of
  its arrays (a damaged one raises :class:`CheckpointError`).

Example:
  >>> from snnjax.configs import get_config
  >>> from snnjax.train import train
  >>> results = train(get_config("yinyang_multispike"), "runs/yy")  # doctest: +SKIP
  >>> results["test_accuracy"], results["spikes_per_sample"]  # doctest: +SKIP
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from snnjax.train.bump import bump_silent_label_weights
    from snnjax.train.checkpoint import CheckpointError, RunCheckpoints
    from snnjax.train.data import DataSplits, SpikeDataset, prepare_data
    from snnjax.train.evaluation import evaluate
    from snnjax.train.loop import RunMismatchError, input_event_bound, train
    from snnjax.train.model import (
        build_model,
        init_params,
        spiking_layer_indices,
        spiking_layer_names,
    )
    from snnjax.train.parallel import (
        DATA_AXIS,
        check_batch_size,
        data_mesh,
        describe_devices,
        replicate,
        shard_batch,
    )
    from snnjax.train.restore import RestoredRun, evaluate_run, load_run, restore_run
    from snnjax.train.rundir import RunDir, RunFileError
    from snnjax.train.step import (
        TrainState,
        guard_weight_gradients,
        make_eval_step,
        make_input_augmentation,
        make_loss_fn,
        make_lr_schedule,
        make_optimizer,
        make_predict_fn,
        make_train_step,
    )

# Each public name and the module that defines it, imported on first access: reading a
# run directory (snnjax runs, RunDir) needs no JAX, Flax, Optax or Orbax.
_WHERE = {
    "bump_silent_label_weights": "bump",
    "CheckpointError": "checkpoint",
    "RunCheckpoints": "checkpoint",
    "DataSplits": "data",
    "SpikeDataset": "data",
    "prepare_data": "data",
    "evaluate": "evaluation",
    "RunMismatchError": "loop",
    "input_event_bound": "loop",
    "train": "loop",
    "build_model": "model",
    "init_params": "model",
    "spiking_layer_indices": "model",
    "spiking_layer_names": "model",
    "DATA_AXIS": "parallel",
    "check_batch_size": "parallel",
    "data_mesh": "parallel",
    "describe_devices": "parallel",
    "replicate": "parallel",
    "shard_batch": "parallel",
    "RestoredRun": "restore",
    "evaluate_run": "restore",
    "load_run": "restore",
    "restore_run": "restore",
    "RunDir": "rundir",
    "RunFileError": "rundir",
    "TrainState": "step",
    "guard_weight_gradients": "step",
    "make_eval_step": "step",
    "make_input_augmentation": "step",
    "make_loss_fn": "step",
    "make_lr_schedule": "step",
    "make_optimizer": "step",
    "make_predict_fn": "step",
    "make_train_step": "step",
}

__all__ = [
    "CheckpointError",
    "DATA_AXIS",
    "DataSplits",
    "RestoredRun",
    "RunCheckpoints",
    "RunDir",
    "RunFileError",
    "RunMismatchError",
    "SpikeDataset",
    "TrainState",
    "build_model",
    "bump_silent_label_weights",
    "check_batch_size",
    "data_mesh",
    "describe_devices",
    "evaluate",
    "evaluate_run",
    "guard_weight_gradients",
    "init_params",
    "input_event_bound",
    "load_run",
    "make_eval_step",
    "make_input_augmentation",
    "make_loss_fn",
    "make_lr_schedule",
    "make_optimizer",
    "make_predict_fn",
    "make_train_step",
    "prepare_data",
    "replicate",
    "restore_run",
    "shard_batch",
    "spiking_layer_indices",
    "spiking_layer_names",
    "train",
]


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"snnjax.train.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'snnjax.train' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_WHERE})
