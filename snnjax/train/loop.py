"""The epoch loop: train, evaluate, log, checkpoint, resume, summarise.

:func:`train` writes into ``out_dir``::

    config.json      the full config (a restart checks it matches)
    run.json         data provenance, layer names, the input-event bound, versions
    metrics.jsonl    one JSON line per epoch
    checkpoints/     Orbax: last/<epoch> (resume) and best/<epoch> (validation-selected)
    results.json     the summary, written when the last epoch is done

Resume: calling :func:`train` again with the same config and ``out_dir`` continues after
the newest complete checkpoint. The batch order of epoch ``e`` depends only on
``(seed, e)`` and the state (parameters, optimizer state, schedule step) is restored
exactly, so the result equals an uninterrupted run with the same seed — whatever instant
the previous call was killed at: an epoch's commit (``metrics.jsonl``, then
``last/<epoch>``, then ``best/<epoch>``) is completed on resume where it was cut (see
:func:`_recover`), and rows of ``metrics.jsonl`` after the restored epoch are dropped.
Checkpoints carry a checksum of their arrays and are refused when damaged
(:class:`~snnjax.train.CheckpointError`).

Model selection never looks at the test split: the best epoch is the one with the best
*validation* accuracy (``selected_by: "validation"`` in ``results.json``); the test
accuracy at that epoch is ``best_test_accuracy``. The maximum test accuracy over epochs
(what the paper reports) is recorded separately and labelled as selected on test.

The pieces of one call, in order: :func:`_open_run_dir` (is ``out_dir`` this run's?),
:func:`_set_up` (compiled steps, initial state, ``run.json``), :func:`_resume` (the newest
checkpoint, the metrics rows it covers), then per epoch :func:`_run_epoch` (training steps
and evaluation -> the metrics row) and :func:`_commit_epoch` (``metrics.jsonl`` and the
checkpoints), and :func:`_finish` (``results.json``). Log lines and the progress bar belong
to a :class:`~snnjax.train.reporting.Reporter`.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import snnjax
from snnjax.configs import ExperimentConfig, config_to_dict
from snnjax.data import batches, get_dataset, num_batches
from snnjax.lif.backends import EventBackend, backend_name, requested_backend
from snnjax.readouts import get_readout
from snnjax.train.bounds import (
    Bounds,
    grown_bounds,
    input_slots,
    max_per_layer,
    merge_bounds,
    recorded_bounds,
    resolve_bounds,
)
from snnjax.train.checkpoint import RunCheckpoints
from snnjax.train.data import DataSplits, prepare_data
from snnjax.train.evaluation import accumulate, evaluate, put_batch
from snnjax.train.model import build_model, spiking_layer_names
from snnjax.train.parallel import (
    check_batch_size,
    data_mesh,
    describe_devices,
    mesh_size,
    replicate,
)
from snnjax.train.provenance import data_record
from snnjax.train.reporting import Reporter
from snnjax.train.rundir import RunDir, RunFileError
from snnjax.train.step import (
    TrainState,
    make_eval_step,
    make_lr_schedule,
    make_optimizer,
    make_train_step,
)
from snnjax.train.summary import EpochTiming, epoch_row, summarise

__all__ = ["train", "input_event_bound", "RunMismatchError"]

# Moved to snnjax.train.restore; still importable from here (imported lazily: restore
# imports this module).
_MOVED_TO_RESTORE = ("RestoredRun", "evaluate_run", "load_run", "restore_run")


def __getattr__(name: str):
    if name in _MOVED_TO_RESTORE:
        from snnjax.train import restore

        return getattr(restore, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class RunMismatchError(ValueError):
    """``out_dir`` holds a run with a different config (resume would mix two runs)."""


# --------------------------------------------------------------------------- helpers


def input_event_bound(config: ExperimentConfig, data: DataSplits) -> int | None:
    """Static bound on the first layer's input events: the config's, or (image datasets,
    dense networks) the largest number of active inputs of a sample over all splits (all
    inputs when the training inputs are augmented: a distortion may light up more)."""
    if config.max_input_events is not None:
        return int(config.max_input_events)
    if config.architecture == "dense" and get_dataset(config.dataset).is_image:
        if config.augment is not None:
            return int(config.sizes[0])
        return max(int(data.max_active_inputs), 1)
    return None


class _Compiled(NamedTuple):
    model: Any
    optimizer: Any
    schedule: Any
    init: Any
    train_step: Any
    eval_step: Any
    mesh: Any


# Settings that change neither the network nor the compiled steps.
_NOT_IN_STEPS = dict(
    name="",
    description="",
    epochs=1,
    seed=0,
    n_validation=0,
    train_subset=None,
    test_subset=None,
    eval_batch_size=1,
    keep_checkpoints=1,
)


@functools.lru_cache(maxsize=8)
def _compiled_cached(
    key_config: ExperimentConfig,
    bound: int | None,
    steps_per_epoch: int,
    backend: str | EventBackend,
    n_devices: int | None,
) -> _Compiled:
    mesh = None if n_devices is None else data_mesh(n_devices)
    model = build_model(key_config, bound, backend)
    optimizer = make_optimizer(key_config, steps_per_epoch)
    return _Compiled(
        model=model,
        optimizer=optimizer,
        schedule=make_lr_schedule(key_config, steps_per_epoch),
        init=jax.jit(model.init),
        train_step=make_train_step(model, key_config, optimizer, mesh=mesh),
        eval_step=make_eval_step(model, key_config, mesh=mesh),
        mesh=mesh,
    )


def _compiled(
    config: ExperimentConfig,
    bound: int | None,
    steps_per_epoch: int,
    n_devices: int | None = None,
    backend: str | EventBackend | None = None,
) -> _Compiled:
    """Model, optimizer and jitted steps, shared by calls with equal settings (so a second
    :func:`train` or :func:`evaluate_run` in the same process does not recompile);
    ``n_devices``: data-parallel over that many devices (``None`` = one device, no mesh);
    ``backend``: the event backend (``None``: its default, resolved here, so that the key
    names the backend the steps are traced with)."""
    key = dataclasses.replace(config, **_NOT_IN_STEPS)
    return _compiled_cached(key, bound, steps_per_epoch, requested_backend(backend), n_devices)


def _init_state(c: _Compiled, input_shape: tuple[int, ...], seed: int) -> TrainState:
    dummy = jnp.full((1,) + tuple(input_shape) + (1,), jnp.inf, jnp.float32)
    params = c.init(jax.random.key(seed), dummy)["params"]
    state = TrainState(params, c.optimizer.init(params), jnp.int32(0))
    return state if c.mesh is None else replicate(state, c.mesh)


# ------------------------------------------------------------------------ the run


class _Run(NamedTuple):
    """What one call of :func:`train` works with, fixed once set up."""

    config: ExperimentConfig
    files: RunDir
    data: DataSplits
    compiled: _Compiled
    names: list[str]
    steps_per_epoch: int
    run_info: dict[str, Any]
    primary: bool  # this process writes logs and JSON files
    bounds: Bounds  # input-event bound of each spiking layer (None = every slot)
    backend: str | EventBackend
    devices: int | None


def _has_progress(files: RunDir) -> bool:
    """Whether a run directory holds anything a run produced: a committed checkpoint or a
    metrics row (the files a failed start leaves, config.json and run.json, do not count)."""
    for kind in ("last", "best"):
        kind_dir = files.checkpoints_path / kind
        if kind_dir.is_dir() and any(p.name.isdigit() for p in kind_dir.iterdir()):
            return True
    return files.metrics_path.is_file() and bool(files.metrics_path.read_bytes().strip())


# Config fields a resumed run may change: the number of epochs, the description, and the
# bounds of the later layers' event lists (they never change a result: a step whose events
# exceed a bound is done again with a larger one).
_MAY_CHANGE_ON_RESUME = ("epochs", "description", "spike_input_events")


def _config_differences(files: RunDir, cfg_dict: dict[str, Any]) -> list[str]:
    """The config fields (other than ``epochs`` and ``description``) in which the run in
    ``files`` differs from ``cfg_dict``.

    Raises:
      RunFileError: ``config.json`` is not a valid config (the message names the field).
    """
    saved = config_to_dict(files.read_config())
    return sorted(
        k
        for k in set(saved) | set(cfg_dict)
        if k not in _MAY_CHANGE_ON_RESUME and saved.get(k) != cfg_dict.get(k)
    )


def _open_run_dir(out: Path, cfg_dict: dict[str, Any], report: Reporter) -> RunDir:
    """The run directory ``out``: empty, a run of the same config, or the remains of a
    start that failed before any epoch was done (no checkpoint, no metrics), which is
    started afresh with this config (and said so).

    Raises:
      RunMismatchError: ``out`` is a file or lies below one, is not a run directory, or
        holds another config's run.
      RunFileError: ``out`` holds a run whose ``config.json`` is not a valid config.
    """
    files = RunDir(out)
    blocking = next((p for p in (out, *out.parents) if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise RunMismatchError(
            f"{blocking} is a file, not a directory: use another --out directory"
        )
    if out.exists() and not files.config_path.exists() and any(out.iterdir()):
        raise RunMismatchError(
            f"{out} exists and is not a snnjax run directory (no "
            "config.json); use another --out directory"
        )
    if not files.config_path.exists():
        return files
    if not _has_progress(files):
        try:
            same = not _config_differences(files, cfg_dict)
        except (ValueError, TypeError):  # an unreadable config.json of a failed start
            same = False
        if not same:
            report.warn(
                f"{out} holds the config.json of a run that failed before its first "
                "epoch (no checkpoint, no metrics): starting it afresh with this config"
            )
            files.results_path.unlink(missing_ok=True)
        return files
    diff = _config_differences(files, cfg_dict)
    if diff:
        raise RunMismatchError(
            f"{out} holds a run of a different config (differs in: {', '.join(diff)}); "
            "use another --out directory"
        )
    return files


def _run_info(
    config: ExperimentConfig,
    data: DataSplits,
    bounds: Bounds,
    names: list[str],
    mesh,
    backend: str | EventBackend,
) -> dict[str, Any]:
    """``run.json``: data provenance, layer names, the input-event bounds, versions."""
    return {
        "config_name": config.name,
        "data_source": data.source,
        **data_record(data),
        "n_train": len(data.train),
        "n_validation": len(data.validation),
        "n_test": len(data.test),
        "input_shape": list(data.input_shape),
        "max_input_events": bounds[0],
        "input_event_bounds": list(bounds),
        "max_active_inputs": data.max_active_inputs,
        "layer_names": names,
        "readout": get_readout(config.loss).rule,
        "jax_version": jax.__version__,
        "snnjax_version": snnjax.__version__,
        "device": describe_devices(mesh),
        "backend": backend_name(backend, platform=jax.devices()[0].platform),
        "data_parallel_devices": mesh_size(mesh) if mesh is not None else None,
    }


def _set_up(
    config: ExperimentConfig,
    files: RunDir,
    data: DataSplits,
    devices: int | None,
    primary: bool,
    backend: str | EventBackend | None,
) -> tuple[_Run, TrainState]:
    """Create the run directory, compile the steps, initialise the state, write
    ``config.json`` and ``run.json``."""
    files.path.mkdir(parents=True, exist_ok=True)
    earlier = _earlier_bounds(files, config)
    if primary:
        files.write_config(config)
    bounds, calibration = resolve_bounds(config, data, input_event_bound(config, data))
    if earlier is not None:  # a resumed run keeps the bounds it grew
        bounds = merge_bounds(bounds, earlier)
    steps_per_epoch = num_batches(len(data.train), config.batch_size)
    backend = requested_backend(backend)
    compiled = _compiled(config, bounds, steps_per_epoch, devices, backend)
    names = spiking_layer_names(compiled.model)
    state = _init_state(compiled, data.input_shape, config.seed)
    run_info = _run_info(config, data, bounds, names, compiled.mesh, backend)
    if calibration:
        run_info["event_bound_calibration"] = calibration
    if primary:
        files.write_run_info(run_info)
    run = _Run(
        config=config,
        files=files,
        data=data,
        compiled=compiled,
        names=names,
        steps_per_epoch=steps_per_epoch,
        run_info=run_info,
        primary=primary,
        bounds=bounds,
        backend=backend,
        devices=devices,
    )
    return run, state


def _earlier_bounds(files: RunDir, config: ExperimentConfig) -> Bounds | None:
    """The bounds recorded by an earlier call on this run directory (``None``: none, or
    unreadable)."""
    if not files.run_info_path.exists():
        return None
    try:
        return recorded_bounds(files.read_run_info(), config.n_spiking_layers)
    except (ValueError, TypeError):  # a damaged run.json is rewritten below
        return None


def _with_bounds(run: _Run, bounds: Bounds, report: Reporter, where: str) -> _Run:
    """``run`` with larger input-event bounds: the steps recompiled, ``run.json`` rewritten."""
    report.warn(
        f"input events exceeded a layer's bound during {where} (bounds "
        f"{list(run.bounds)}): growing them to {list(bounds)}, recompiling and doing "
        f"the {where} again (a larger spike_input_events / max_input_events avoids this)"
    )
    compiled = _compiled(run.config, bounds, run.steps_per_epoch, run.devices, run.backend)
    info = {**run.run_info, "max_input_events": bounds[0], "input_event_bounds": list(bounds)}
    if run.primary:
        run.files.write_run_info(info)
    return run._replace(compiled=compiled, run_info=info, bounds=bounds)


def _resume(
    run: _Run, ckpts: RunCheckpoints, state: TrainState, report: Reporter
) -> tuple[TrainState, int, _Best, list[dict[str, Any]]]:
    """Restore the newest checkpoint (see :func:`_recover`) and keep the metrics rows it
    covers (later rows belong to an epoch whose commit was cut; it is trained again).

    Returns:
      ``(state, epochs done, best so far, metrics rows)``.
    """
    config, out = run.config, run.files.path
    state, meta = _recover(ckpts, state, report)
    start_epoch = int(meta.get("epoch", 0))
    if start_epoch:
        report.info(
            f"resuming {out} after epoch {start_epoch} (checkpoint "
            f"{ckpts.directory}/last/{start_epoch})"
        )
    history = [row for row in run.files.read_metrics(complete=True) if row["epoch"] <= start_epoch]
    if [row["epoch"] for row in history] != list(range(1, start_epoch + 1)):
        raise RunFileError(
            f"{run.files.metrics_path} lacks rows of epochs 1 to {start_epoch} (it has "
            f"{[row['epoch'] for row in history]}), which the checkpoint of epoch "
            f"{start_epoch} follows: restore the file, or train in another --out directory"
        )
    if run.primary:
        run.files.write_metrics(history)
    if start_epoch >= config.epochs:
        report.info(f"{out}: all {config.epochs} epochs already done")
    else:
        report.start(config, run.run_info, run.steps_per_epoch)
    best = _Best(meta.get("best_validation_accuracy", -1.0), meta.get("best_epoch"))
    return state, start_epoch, best, history


class _Steps(NamedTuple):
    """One epoch's training steps: the new state, the summed step metrics, timings."""

    state: TrainState
    sums: dict[str, Any]
    train_time: float  # seconds of the steps after the call's first (compiling) step
    n_steady: int  # samples in train_time
    compile_time: float | None  # seconds of the call's first step, if in this epoch


def _train_steps(
    run: _Run, state: TrainState, epoch: int, first_of_call: bool, report: Reporter
) -> _Steps:
    """The training steps of ``epoch`` over the batches of ``(seed, epoch)``."""
    config, train_data, mesh = run.config, run.data.train, run.compiled.mesh
    t_epoch = time.perf_counter()
    t_steady, compile_time = t_epoch, None
    sums: dict[str, Any] = {}
    bar = report.progress_bar(epoch, config.epochs, run.steps_per_epoch)
    # An augmenting step draws its distortions from (the run's seed, state.step).
    seed = () if config.augment is None else (config.seed,)
    for i, idx in enumerate(
        batches(len(train_data), config.batch_size, seed=config.seed, epoch=epoch - 1)
    ):
        state, m = run.compiled.train_step(
            state,
            put_batch(train_data.times[idx], mesh),
            put_batch(train_data.labels[idx], mesh),
            *seed,
        )
        if first_of_call and i == 0:
            # The first step of this process compiles; keep it out of the throughput.
            jax.block_until_ready(m)
            t_steady = time.perf_counter()
            compile_time = t_steady - t_epoch
        accumulate(sums, m)
        report.step_done(bar, i, m)
    jax.block_until_ready(state)
    bar.close()
    train_time = time.perf_counter() - t_steady
    n_steady = (run.steps_per_epoch - int(first_of_call)) * config.batch_size
    return _Steps(state, jax.device_get(sums), train_time, n_steady, compile_time)


def _run_epoch(
    run: _Run, state: TrainState, epoch: int, first_of_call: bool, report: Reporter
) -> tuple[_Run, TrainState, dict[str, Any]]:
    """Train ``epoch``, evaluate on validation and test; the run (with the bounds it has
    now), the new state and the metrics row.

    Input events beyond a bound are never kept: when a training step had any, the bounds
    grow (:func:`snnjax.train.bounds.grown_bounds`) and the epoch is trained again from
    ``state``; when an evaluation had any, it is done again. The row is the exact one.
    """
    t_epoch = time.perf_counter()
    while True:
        steps = _train_steps(run, state, epoch, first_of_call, report)
        grown = grown_bounds(run.bounds, steps.sums["overflow_max"], input_slots(run.config))
        if grown is None:
            break
        run, first_of_call = _with_bounds(run, grown, report, "training"), True
    while True:
        c, bs = run.compiled, run.config.eval_batch_size
        val = evaluate(c.eval_step, steps.state.params, run.data.validation, bs, run.names, c.mesh)
        test = evaluate(c.eval_step, steps.state.params, run.data.test, bs, run.names, c.mesh)
        most = max_per_layer(*(list(e["input_overflow_max"].values()) for e in (val, test) if e))
        grown = most and grown_bounds(run.bounds, most, input_slots(run.config))
        if not grown:
            break
        run = _with_bounds(run, grown, report, "evaluation")
    timing = EpochTiming(
        wall=time.perf_counter() - t_epoch,
        train=steps.train_time,
        n_steady=steps.n_steady,
        compile=steps.compile_time,
    )
    lr = float(c.schedule(int(steps.state.step) - 1))
    return run, steps.state, epoch_row(epoch, steps.sums, val, test, run.names, lr, timing)


# ------------------------------------------------------------ commit and recovery

# The stages of an epoch's commit, in order: metrics.jsonl, checkpoints/last/<epoch>,
# checkpoints/best/<epoch> (when it is saved); and, after the final epoch, results.json.
# _commit_stage(stage, epoch) is called as each stage begins (also when _recover
# completes a cut commit): it does nothing, and is there for tests that kill the process
# at every point of a commit (tests/test_train_resume.py replaces it in a subprocess).
COMMIT_STAGES = ("metrics", "last", "best", "results")


def _commit_stage(stage: str, epoch: int) -> None:
    """Called as ``stage`` (one of :data:`COMMIT_STAGES`) of ``epoch``'s commit begins."""


class _Best(NamedTuple):
    """The best epoch so far: its validation accuracy (-1 before any) and number (``None``
    before the first ``best`` checkpoint)."""

    accuracy: float
    epoch: int | None


def _commit_epoch(
    run: _Run, ckpts: RunCheckpoints, history: list[dict[str, Any]], state: TrainState, best: _Best
) -> _Best:
    """Commit the epoch of ``history[-1]``: ``metrics.jsonl``, then ``last/<epoch>``, then
    ``best/<epoch>`` when validation improved (or, with no validation split, at the final
    epoch). Each write is atomic; the checkpoint meta records the best epoch, so that
    :func:`_recover` can complete a commit cut between ``last`` and ``best``.

    Returns:
      The best epoch after this one.
    """
    epoch, val = history[-1]["epoch"], history[-1]["validation"]
    _commit_stage("metrics", epoch)
    if run.primary:
        run.files.write_metrics(history)
    improved = val is not None and val["accuracy"] > best.accuracy
    save_best = improved or (val is None and epoch == run.config.epochs)
    best = _Best(val["accuracy"] if improved else best.accuracy, epoch if save_best else best.epoch)
    meta = {"epoch": epoch, "best_validation_accuracy": best.accuracy, "best_epoch": best.epoch}
    _commit_stage("last", epoch)
    ckpts.save("last", epoch, state, meta)
    if save_best:
        _commit_stage("best", epoch)
        ckpts.save("best", epoch, state, meta)
    return best


def _recover(
    ckpts: RunCheckpoints, like: TrainState, report: Reporter
) -> tuple[TrainState, dict[str, Any]]:
    """The newest checkpoint (``like`` and ``{}`` when there is none), after completing
    what an interruption or a deletion left undone.

    * ``last/N`` whose meta names ``best_epoch`` B with no ``best/B`` (the commit was
      cut between ``last`` and ``best``): ``best/B`` is re-created from ``last/B`` (the
      same state).
    * a ``best/M`` newer than every ``last`` checkpoint (``last`` deleted): the run
      resumes from it, and ``last/M`` is re-created from it.
    """
    last, best = ckpts.latest_epoch("last"), ckpts.latest_epoch("best")
    if best is not None and (last is None or best > last):
        state, meta = ckpts.restore("best", like)
        report.warn(
            f"{ckpts.directory}/last has no checkpoint of epoch {best} or later: "
            f"resuming from best/{best} (re-created as last/{best})"
        )
        _commit_stage("last", best)
        ckpts.save("last", best, state, meta)
        return state, meta
    if last is None:
        return like, {}
    state, meta = ckpts.restore("last", like)
    b = meta.get("best_epoch")
    if b is not None and b not in ckpts.epochs("best"):
        if b in ckpts.epochs("last"):
            source = (state, meta) if b == last else ckpts.restore("last", like, b)
            report.info(
                f"re-creating {ckpts.directory}/best/{b} from last/{b} (its commit was interrupted)"
            )
            _commit_stage("best", b)
            ckpts.save("best", b, *source)
        else:
            report.warn(
                f"{ckpts.directory}/best/{b} (the best epoch) is missing and "
                f"last/{b} is gone too: the 'best' checkpoint cannot be restored"
            )
    return state, meta


def _finish(
    run: _Run, ckpts: RunCheckpoints, history: list[dict[str, Any]], total_time: float
) -> dict[str, Any]:
    """Write and return ``results.json``."""
    _commit_stage("results", history[-1]["epoch"] if history else 0)
    results = summarise(
        run.config, history, run.run_info, run.files.path, ckpts.directory, total_time=total_time
    )
    if run.primary:
        run.files.write_results(results)
    return results


# ------------------------------------------------------------------------------ train


def train(
    config: ExperimentConfig,
    out_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    progress: bool | None = None,
    stop_after: int | None = None,
    log: Callable[[str], None] | None = None,
    data: DataSplits | None = None,
    devices: int | None = None,
    backend: str | EventBackend | None = None,
) -> dict[str, Any] | None:
    """Train ``config``, writing metrics, checkpoints and results into ``out_dir``.

    Args:
      config: the experiment.
      out_dir: run directory (created). If it holds a checkpoint of the same config, the
        run resumes after it; a different config raises :class:`RunMismatchError`
        (``epochs`` may differ: a finished run can be extended), unless the directory
        holds only what a failed start leaves (no checkpoint, no metrics row): it is then
        started afresh with ``config``.
      data_dir: directory with the IDX files of image datasets.
      quiet: print only warnings and the final summary (no progress bar, no epoch lines).
      progress: show a tqdm progress bar; default: when stderr is a terminal and not quiet.
      stop_after: stop (as an interruption would) after this many epochs in this call,
        without writing ``results.json``; for tests and preemptible jobs.
      log: function receiving each log line (default: ``print``, or ``tqdm.write`` while a
        progress bar is shown).
      data: pre-encoded splits (default: :func:`snnjax.train.prepare_data`).
      devices: data-parallel training over this many devices (the first of
        :func:`jax.devices`; after :func:`jax.distributed.initialize` those of all
        processes): each batch is split over a ``"data"`` mesh axis and the gradients are
        averaged across devices (:mod:`snnjax.train.parallel`); the result equals
        one-device training up to float rounding. ``None`` (default): one device, no
        mesh. With several processes only process 0 writes logs and JSON files (all take
        part in the checkpoints).
      backend: event backend of the spiking layers (``"ffi"``, ``"loop"``, ``"auto"``;
        ``None`` = the ``SNNJAX_KERNEL`` default, else automatic; see
        :mod:`snnjax.lif.backends`). ``run.json`` records the one that ran.

    Returns:
      The ``results.json`` dict, or ``None`` when stopped early by ``stop_after``.

    Raises:
      FileNotFoundError: image data not found (the loader's message says how to get it).
      RunMismatchError: ``out_dir`` belongs to a different config, or is a file.
      RunFileError: a file of ``out_dir`` is damaged (the message names file and field).
      CheckpointError: the checkpoint to resume from is damaged (the message names it
        and the way on).
      ValueError: ``batch_size`` not divisible by ``devices``, or more devices than exist.
    """
    t_start = time.perf_counter()
    primary = jax.process_index() == 0  # multi-process: one writer of logs and files
    report = Reporter(quiet=quiet, progress=progress, log=log, primary=primary)
    if devices is not None:
        check_batch_size(config.batch_size, data_mesh(devices), "batch_size")
    files = _open_run_dir(Path(out_dir), config_to_dict(config), report)
    if data is None:
        data = prepare_data(config, data_dir)  # before writing anything: data may be missing
    if len(data.train) < config.batch_size:
        raise ValueError(
            f"the training split has {len(data.train)} samples, fewer than "
            f"batch_size={config.batch_size}"
        )
    run, state = _set_up(config, files, data, devices, primary, backend)
    ckpts = RunCheckpoints(files.checkpoints_path, keep=config.keep_checkpoints)
    try:
        state, start_epoch, best, history = _resume(run, ckpts, state, report)
        for epoch in range(start_epoch + 1, config.epochs + 1):
            run, state, row = _run_epoch(run, state, epoch, epoch == start_epoch + 1, report)
            history.append(row)
            best = _commit_epoch(run, ckpts, history, state, best)
            report.epoch(row, config)
            if (
                stop_after is not None
                and epoch - start_epoch >= stop_after
                and epoch < config.epochs
            ):
                report.info(
                    f"stopped after epoch {epoch} (stop_after={stop_after}); run the "
                    "same command again to resume"
                )
                return None
        return _finish(run, ckpts, history, time.perf_counter() - t_start)
    finally:
        ckpts.close()
