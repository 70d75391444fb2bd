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
exactly, so the result equals an uninterrupted run with the same seed.

Model selection never looks at the test split: the best epoch is the one with the best
*validation* accuracy (``selected_by: "validation"`` in ``results.json``); the test
accuracy at that epoch is ``best_test_accuracy``. The maximum test accuracy over epochs
(what the paper reports) is recorded separately and labelled as selected on test.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

import snnjax
from snnjax.configs import ExperimentConfig, config_to_dict
from snnjax.data import batches, get_dataset, num_batches
from snnjax.lif.backends import EventBackend, backend_name, requested_backend
from snnjax.readouts import get_readout
from snnjax.train.checkpoint import RunCheckpoints
from snnjax.train.data import DataSplits, SpikeDataset, prepare_data
from snnjax.train.model import build_model, spiking_layer_names
from snnjax.train.parallel import (
    check_batch_size,
    data_mesh,
    describe_devices,
    mesh_size,
    replicate,
    shard_batch,
)
from snnjax.train.rundir import RunDir
from snnjax.train.step import (
    TrainState,
    make_eval_step,
    make_lr_schedule,
    make_optimizer,
    make_train_step,
)

__all__ = ["train", "evaluate", "evaluate_run", "load_run", "input_event_bound",
           "RunMismatchError"]


class RunMismatchError(ValueError):
    """``out_dir`` holds a run with a different config (resume would mix two runs)."""


# --------------------------------------------------------------------------- helpers


def input_event_bound(config: ExperimentConfig, data: DataSplits) -> int | None:
    """Static bound on the first layer's input events: the config's, or (image datasets,
    dense networks) the largest number of active inputs of a sample over all splits."""
    if config.max_input_events is not None:
        return int(config.max_input_events)
    if config.architecture == "dense" and get_dataset(config.dataset).is_image:
        return max(int(data.max_active_inputs), 1)
    return None


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _per_layer(names: list[str], values) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, values, strict=True)}


def _fmt_layers(d: dict[str, float], fmt: str = "{:.1f}") -> str:
    return " ".join(f"{k} {fmt.format(v)}" for k, v in d.items())


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in ("epochs", "description")}


class _Compiled(NamedTuple):
    model: Any
    optimizer: Any
    schedule: Any
    init: Any
    train_step: Any
    eval_step: Any
    mesh: Any


# Settings that change neither the network nor the compiled steps.
_NOT_IN_STEPS = dict(name="", description="", epochs=1, seed=0, n_validation=0,
                     train_subset=None, test_subset=None, eval_batch_size=1,
                     keep_checkpoints=1)


@functools.lru_cache(maxsize=8)
def _compiled_cached(key_config: ExperimentConfig, bound: int | None, steps_per_epoch: int,
                     backend: str | EventBackend, n_devices: int | None) -> _Compiled:
    mesh = None if n_devices is None else data_mesh(n_devices)
    model = build_model(key_config, bound, backend)
    optimizer = make_optimizer(key_config, steps_per_epoch)
    return _Compiled(model=model, optimizer=optimizer,
                     schedule=make_lr_schedule(key_config, steps_per_epoch),
                     init=jax.jit(model.init),
                     train_step=make_train_step(model, key_config, optimizer, mesh=mesh),
                     eval_step=make_eval_step(model, key_config, mesh=mesh), mesh=mesh)


def _compiled(config: ExperimentConfig, bound: int | None, steps_per_epoch: int,
              n_devices: int | None = None,
              backend: str | EventBackend | None = None) -> _Compiled:
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


def _put_batch(x: np.ndarray, mesh) -> Any:
    """The host batch as the step takes it: unchanged, or split over the mesh."""
    return x if mesh is None else shard_batch(x, mesh)


# ------------------------------------------------------------------------ evaluation


def evaluate(eval_step, params, data: SpikeDataset, batch_size: int,
             layer_names: list[str], mesh=None) -> dict[str, Any] | None:
    """Evaluate ``params`` on one split.

    Args:
      eval_step: from :func:`snnjax.train.make_eval_step`.
      params: network parameters.
      data: the split (``None`` or empty -> ``None``).
      batch_size: evaluation batch size (the last batch is padded and masked).
      layer_names: names of the spiking layers.
      mesh: the eval step's data-parallel mesh, if any: the batch size is then rounded up
        to a multiple of its device count (padding is masked; results do not change).

    Returns:
      ``{"accuracy", "silent_output_fraction", "label_silent_fraction", "loss",
      "spikes_per_sample": {layer: float}, "silent_neurons": {layer: fraction of neurons
      that never spiked on this split}, "dropped_spikes_per_sample", "input_overflow_per_sample",
      "n"}``, or ``None`` for an empty split.
    """
    if data is None or len(data) == 0:
        return None
    n = len(data)
    bs = min(batch_size, n)
    bs = -(-bs // mesh_size(mesh)) * mesh_size(mesh)
    totals: dict[str, Any] = {}
    active = None
    for start in range(0, n, bs):
        idx = np.arange(start, start + bs)
        mask = idx < n
        idx = np.minimum(idx, n - 1)
        stats = eval_step(params, _put_batch(data.times[idx], mesh),
                          _put_batch(data.labels[idx], mesh), _put_batch(mask, mesh))
        act = stats.pop("active")
        active = act if active is None else tuple(a | b for a, b in zip(active, act,
                                                                           strict=True))
        for k, v in stats.items():
            totals[k] = v if k not in totals else totals[k] + v
    totals = jax.device_get(totals)
    active = jax.device_get(active)
    count = float(totals["n"])
    return {
        "n": int(count),
        "accuracy": float(totals["correct"]) / count,
        "silent_output_fraction": float(totals["silent_outputs"]) / count,
        "label_silent_fraction": float(totals["label_silent"]) / count,
        "loss": (float(totals["loss_sum"]) / float(totals["loss_finite"])
                 if totals["loss_finite"] > 0 else math.inf),
        "spikes_per_sample": _per_layer(layer_names, totals["spikes"] / count),
        "silent_neurons": _per_layer(layer_names, [1.0 - float(np.mean(a)) for a in active]),
        "dropped_spikes_per_sample": _per_layer(layer_names, totals["dropped"] / count),
        "input_overflow_per_sample": _per_layer(layer_names, totals["overflow"] / count),
    }


# ------------------------------------------------------------------------------ train


def train(config: ExperimentConfig, out_dir: str | os.PathLike[str], *,
          data_dir: str | os.PathLike[str] | None = None, quiet: bool = False,
          progress: bool | None = None, stop_after: int | None = None,
          log: Callable[[str], None] | None = None,
          data: DataSplits | None = None,
          devices: int | None = None,
          backend: str | EventBackend | None = None) -> dict[str, Any] | None:
    """Train ``config``, writing metrics, checkpoints and results into ``out_dir``.

    Args:
      config: the experiment.
      out_dir: run directory (created). If it holds a checkpoint of the same config, the
        run resumes after it; a different config raises :class:`RunMismatchError`
        (``epochs`` may differ: a finished run can be extended).
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
      RunMismatchError: ``out_dir`` belongs to a different config.
      ValueError: ``batch_size`` not divisible by ``devices``, or more devices than exist.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    show_bar = (not quiet and _is_tty(sys.stderr)) if progress is None else bool(progress)
    emit = log if log is not None else (tqdm.write if show_bar else print)
    primary = jax.process_index() == 0  # multi-process: one writer of logs and files
    show_bar = show_bar and primary

    def info(msg: str) -> None:
        if not quiet and primary:
            emit(msg)

    def warn(msg: str) -> None:
        if primary:
            emit(msg)

    if devices is not None:
        check_batch_size(config.batch_size, data_mesh(devices), "batch_size")

    cfg_dict = config_to_dict(config)
    run_dir = RunDir(out)
    if out.exists() and not run_dir.config_path.exists() and any(out.iterdir()):
        raise RunMismatchError(f"{out} exists and is not a snnjax run directory (no "
                               "config.json); use another --out directory")
    if run_dir.config_path.exists():
        saved = run_dir.read_config_dict()
        if _comparable(saved) != _comparable(cfg_dict):
            diff = sorted(k for k in set(saved) | set(cfg_dict)
                          if k not in ("epochs", "description") and saved.get(k) != cfg_dict.get(k))
            raise RunMismatchError(
                f"{out} holds a run of a different config (differs in: {', '.join(diff)}); "
                "use another --out directory")

    if data is None:
        data = prepare_data(config, data_dir)  # before writing anything: data may be missing
    if len(data.train) < config.batch_size:
        raise ValueError(f"the training split has {len(data.train)} samples, fewer than "
                         f"batch_size={config.batch_size}")
    out.mkdir(parents=True, exist_ok=True)
    if primary:
        run_dir.write_config(cfg_dict)
    bound = input_event_bound(config, data)
    steps_per_epoch = num_batches(len(data.train), config.batch_size)
    backend = requested_backend(backend)
    compiled = _compiled(config, bound, steps_per_epoch, devices, backend)
    mesh = compiled.mesh
    names = spiking_layer_names(compiled.model)
    schedule = compiled.schedule
    state = _init_state(compiled, data.input_shape, config.seed)
    train_step, eval_step = compiled.train_step, compiled.eval_step

    run_info = {
        "config_name": config.name,
        "data_source": data.source,
        "n_train": len(data.train), "n_validation": len(data.validation),
        "n_test": len(data.test),
        "input_shape": list(data.input_shape),
        "max_input_events": bound,
        "max_active_inputs": data.max_active_inputs,
        "layer_names": names,
        "readout": get_readout(config.loss).rule,
        "jax_version": jax.__version__, "snnjax_version": snnjax.__version__,
        "device": describe_devices(mesh),
        "backend": backend_name(backend, platform=jax.devices()[0].platform),
        "data_parallel_devices": mesh_size(mesh) if mesh is not None else None,
    }
    if primary:
        run_dir.write_run_info(run_info)

    ckpts = RunCheckpoints(run_dir.checkpoints_path, keep=config.keep_checkpoints)
    start_epoch, meta = 0, {}
    try:
        last = ckpts.latest_epoch("last")
        if last is not None:
            state, meta = ckpts.restore("last", state)
            start_epoch = int(meta["epoch"])
            info(f"resuming {out} after epoch {start_epoch} (checkpoint "
                 f"{ckpts.directory}/last/{start_epoch})")
        history = [row for row in run_dir.read_metrics() if row["epoch"] <= start_epoch]
        if primary:
            run_dir.write_metrics(history)
        if start_epoch >= config.epochs:
            info(f"{out}: all {config.epochs} epochs already done")
        else:
            info(f"training {config.name}: {config.dataset} ({data.source}), "
                 f"{len(data.train)} train / {len(data.validation)} validation / "
                 f"{len(data.test)} test samples, layers {' '.join(names)}, "
                 f"{config.epochs} epochs of {steps_per_epoch} steps, device "
                 f"{run_info['device']}")
            if bound is not None:
                info(f"input-event bound of the first layer: {bound} "
                     f"(largest active-input count of a sample: {data.max_active_inputs})")

        best_val = meta.get("best_validation_accuracy", -1.0)
        compile_time = None
        epochs_this_call = 0
        for epoch in range(start_epoch + 1, config.epochs + 1):
            t_epoch = time.perf_counter()
            sums: dict[str, Any] = {}
            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}",
                       disable=not show_bar, leave=False, file=sys.stderr, dynamic_ncols=True)
            first_of_call = epoch == start_epoch + 1
            t_steady = t_epoch
            for i, idx in enumerate(batches(len(data.train), config.batch_size,
                                            seed=config.seed, epoch=epoch - 1)):
                state, m = train_step(state, _put_batch(data.train.times[idx], mesh),
                                      _put_batch(data.train.labels[idx], mesh))
                if first_of_call and i == 0:
                    # The first step of this process compiles; keep it out of the throughput.
                    jax.block_until_ready(m)
                    t_steady = time.perf_counter()
                    compile_time = t_steady - t_epoch
                for k, v in m.items():
                    sums[k] = v if k not in sums else sums[k] + v
                if show_bar:
                    bar.update(1)
                    if i % 20 == 0:
                        loss = float(m["loss_sum"]) / max(float(m["loss_finite"]), 1.0)
                        bar.set_postfix(loss=f"{loss:.4f}")
            jax.block_until_ready(state)
            bar.close()
            t_train = time.perf_counter() - t_steady
            n_steady = (steps_per_epoch - int(first_of_call)) * config.batch_size
            sums = jax.device_get(sums)
            val = evaluate(eval_step, state.params, data.validation, config.eval_batch_size,
                           names, mesh)
            test = evaluate(eval_step, state.params, data.test, config.eval_batch_size, names,
                            mesh)
            wall = time.perf_counter() - t_epoch
            n = float(sums["n"])
            row = {
                "epoch": epoch,
                "train_loss": (float(sums["loss_sum"]) / float(sums["loss_finite"])
                               if sums["loss_finite"] > 0 else None),
                "train_loss_infinite_fraction": 1.0 - float(sums["loss_finite"]) / n,
                "train_accuracy": float(sums["correct"]) / n,
                "train_silent_output_fraction": float(sums["silent_outputs"]) / n,
                "validation_accuracy": val["accuracy"] if val else None,
                "test_accuracy": test["accuracy"] if test else None,
                "spikes_per_sample": _per_layer(names, sums["spikes"] / n),
                "silent_neurons": (val or test or {}).get("silent_neurons"),
                "silent_neurons_split": "validation" if val else ("test" if test else None),
                "dropped_spikes_per_sample": _per_layer(names, sums["dropped"] / n),
                "input_overflow_per_sample": _per_layer(names, sums["overflow"] / n),
                "nonfinite_grad_steps": int(sums["nonfinite_grad"]),
                "guarded_weight_columns": int(sums["guarded_columns"]),
                "lr": float(schedule(int(state.step) - 1)),
                "wall_time_s": wall,
                "train_time_s": t_train,
                "train_samples_steady": n_steady,
                "samples_per_s": n_steady / t_train if t_train > 0 else None,
                "compile_time_s": compile_time if first_of_call else None,
                "validation": val,
                "test": test,
            }
            history.append(row)
            if primary:
                run_dir.write_metrics(history)

            improved = val is not None and val["accuracy"] > best_val
            if improved:
                best_val = val["accuracy"]
            meta = {"epoch": epoch, "best_validation_accuracy": best_val}
            ckpts.save("last", epoch, state, meta)
            if improved or (val is None and epoch == config.epochs):
                ckpts.save("best", epoch, state, meta)

            line = (f"epoch {epoch}/{config.epochs}  loss {row['train_loss'] or math.inf:.4f}  "
                    f"train {100 * row['train_accuracy']:.2f}%")
            if val:
                line += f"  val {100 * val['accuracy']:.2f}%"
            if test:
                line += f"  test {100 * test['accuracy']:.2f}%"
            line += f"  spikes/sample {_fmt_layers(row['spikes_per_sample'])}"
            if row["silent_neurons"]:
                line += f"  silent neurons {_fmt_layers(row['silent_neurons'], '{:.0%}')}"
            if row["samples_per_s"]:
                line += f"  {wall:.1f} s ({row['samples_per_s']:.0f} samples/s)"
            warnings = []
            # A 1-slot (TTFS) layer keeps only first spikes by design: its later spikes are
            # counted in the metrics but are no reason to warn.
            dropped = {k: v for (k, v), slots in zip(row["dropped_spikes_per_sample"].items(),
                                                     config.max_spikes, strict=True)
                       if v > 0 and slots > 1}
            if dropped:
                warnings.append(f"DROPPED spikes/sample (buffer full, raise max_spikes): "
                                f"{_fmt_layers(dropped, '{:.3g}')}")
            overflow = {k: v for k, v in row["input_overflow_per_sample"].items() if v > 0}
            if overflow:
                warnings.append(f"INPUT OVERFLOW events/sample (raise max_input_events): "
                                f"{_fmt_layers(overflow, '{:.3g}')}")
            if row["nonfinite_grad_steps"]:
                warnings.append(f"{row['nonfinite_grad_steps']} steps with non-finite "
                                "gradients were skipped")
            if row["train_silent_output_fraction"] > 0:
                warnings.append(f"all outputs silent for "
                                f"{row['train_silent_output_fraction']:.1%} of train samples")
            if warnings:
                line += "  | " + "; ".join(warnings)
                warn(line)
            else:
                info(line)

            epochs_this_call += 1
            if stop_after is not None and epochs_this_call >= stop_after \
                    and epoch < config.epochs:
                info(f"stopped after epoch {epoch} (stop_after={stop_after}); run the same "
                     "command again to resume")
                return None

        results = _summarise(config, history, run_info, out, ckpts,
                             total_time=time.perf_counter() - t_start)
        if primary:
            run_dir.write_results(results)
        return results
    finally:
        ckpts.close()


def _summarise(config, history, run_info, out: Path, ckpts: RunCheckpoints,
               total_time: float) -> dict[str, Any]:
    if not history:
        raise RuntimeError(f"{out}: no epochs recorded in metrics.jsonl")
    final = history[-1]
    with_val = [r for r in history if r["validation_accuracy"] is not None]
    if with_val:
        best = max(with_val, key=lambda r: (r["validation_accuracy"], -r["epoch"]))
        selected_by = "validation"
    else:
        best, selected_by = final, "final epoch (no validation split)"
    with_test = [r for r in history if r["test_accuracy"] is not None]
    max_test = max(with_test, key=lambda r: (r["test_accuracy"], -r["epoch"])) \
        if with_test else None
    steady_n = sum(r["train_samples_steady"] for r in history)
    steady_t = sum(r["train_time_s"] for r in history)
    compile_times = [r["compile_time_s"] for r in history if r["compile_time_s"] is not None]
    test_final = final.get("test") or {}
    spikes = test_final.get("spikes_per_sample") or final["spikes_per_sample"]
    return {
        "config_name": config.name,
        "test_accuracy": final["test_accuracy"],
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"],
        "best_validation_accuracy": best["validation_accuracy"],
        "selected_by": selected_by,
        "max_test_accuracy_over_epochs": None if max_test is None else {
            "value": max_test["test_accuracy"], "epoch": max_test["epoch"],
            "note": "selected on the test split (as the paper reports); optimistic"},
        "final_validation_accuracy": final["validation_accuracy"],
        "final_train_accuracy": final["train_accuracy"],
        "final_train_loss": final["train_loss"],
        "spikes_per_sample": spikes,
        "spikes_per_sample_total": float(sum(spikes.values())),
        "spikes_per_sample_split": "test" if test_final else "train",
        "silent_neurons": test_final.get("silent_neurons"),
        "silent_output_fraction": test_final.get("silent_output_fraction"),
        "label_silent_fraction": test_final.get("label_silent_fraction"),
        "dropped_spikes_per_sample": final["dropped_spikes_per_sample"],
        "input_overflow_per_sample": final["input_overflow_per_sample"],
        "train_samples_per_s": steady_n / steady_t if steady_t > 0 else None,
        "compile_time_s": compile_times[0] if compile_times else None,
        "total_wall_time_s": sum(r["wall_time_s"] for r in history),
        "wall_time_this_call_s": total_time,
        "epochs": final["epoch"],
        "seed": config.seed,
        "config": config_to_dict(config),
        "data_source": run_info["data_source"],
        "n_train": run_info["n_train"], "n_validation": run_info["n_validation"],
        "n_test": run_info["n_test"],
        "max_input_events": run_info["max_input_events"],
        "layer_names": run_info["layer_names"],
        "readout": run_info["readout"],
        "jax_version": run_info["jax_version"],
        "snnjax_version": run_info["snnjax_version"],
        "device": run_info["device"],
        "checkpoints": {"last": f"{ckpts.directory}/last/{final['epoch']}",
                        "best": f"{ckpts.directory}/best/{best['epoch']}"},
        "metrics": str(RunDir(out).metrics_path),
    }


# ------------------------------------------------------------------------ run access


def load_run(run_dir: str | os.PathLike[str]) -> tuple[ExperimentConfig, dict[str, Any]]:
    """``(config, run_info)`` of a run directory written by :func:`train`.

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


def restore_run(run_dir: str | os.PathLike[str], config: ExperimentConfig,
                run_info: dict[str, Any], data: DataSplits,
                checkpoint: str = "last",
                backend: str | EventBackend | None = None) -> RestoredRun:
    """Rebuild a run's model (with the event bound it was trained with) and restore a checkpoint.

    Args:
      run_dir: directory written by :func:`train`; ``config, run_info`` from :func:`load_run`.
      data: the encoded splits (their input shape, and the event bound if the run has none).
      checkpoint: ``"last"`` or ``"best"`` (validation-selected).
      backend: event backend of the rebuilt model (as in :func:`train`).

    Raises:
      FileNotFoundError: the run has no such checkpoint.
    """
    bound = run_info.get("max_input_events", input_event_bound(config, data))
    compiled = _compiled(config, bound, 1, backend=backend)
    like = _init_state(compiled, data.input_shape, config.seed)
    ckpts = RunCheckpoints(RunDir(run_dir).checkpoints_path)
    try:
        if ckpts.latest_epoch(checkpoint) is None:
            raise FileNotFoundError(f"{run_dir} has no {checkpoint!r} checkpoint")
        state, meta = ckpts.restore(checkpoint, like)
    finally:
        ckpts.close()
    return RestoredRun(model=compiled.model, eval_step=compiled.eval_step, params=state.params,
                       epoch=int(meta["epoch"]))


def evaluate_run(run_dir: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None,
                 checkpoint: str = "last", split: str = "test",
                 data: DataSplits | None = None,
                 backend: str | EventBackend | None = None) -> dict[str, Any]:
    """Evaluate a checkpoint of a run on one split.

    Args:
      run_dir: directory written by :func:`train`.
      data_dir: directory with the IDX files (image datasets).
      checkpoint: ``"last"`` or ``"best"`` (validation-selected).
      split: ``"test"``, ``"validation"`` or ``"train"``.
      data: pre-encoded splits (default: loaded from the run's config).
      backend: event backend (as in :func:`train`; all give the same results up to float
        rounding).

    Returns:
      The :func:`evaluate` dict plus ``"epoch"``, ``"checkpoint"``, ``"split"``,
      ``"config_name"``, ``"data_source"`` and ``"max_spikes"`` (buffer per layer).

    Raises:
      FileNotFoundError: no run or no checkpoint there; image data not found.
      ValueError: bad ``checkpoint`` or ``split``.
    """
    if checkpoint not in ("last", "best"):
        raise ValueError(f"checkpoint must be 'last' or 'best', got {checkpoint!r}")
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
    config, run_info = load_run(run_dir)
    if data is None:
        data = prepare_data(config, data_dir, splits=(split,))
    restored = restore_run(run_dir, config, run_info, data, checkpoint, backend)
    names = spiking_layer_names(restored.model)
    result = evaluate(restored.eval_step, restored.params, getattr(data, split),
                      config.eval_batch_size, names)
    if result is None:
        raise ValueError(f"the {split!r} split of {config.name} is empty")
    result.update({"epoch": restored.epoch, "checkpoint": checkpoint, "split": split,
                   "config_name": config.name, "data_source": data.source,
                   "max_spikes": dict(zip(names, config.max_spikes, strict=True))})
    return result
