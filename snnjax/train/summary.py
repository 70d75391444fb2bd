"""The numbers a run records: one ``metrics.jsonl`` row per epoch, and ``results.json``.

:func:`epoch_row` turns an epoch's summed training-step metrics, its evaluations and its
timings into the row written to ``metrics.jsonl``; :func:`summarise` turns the rows of a
finished run into ``results.json`` (best epoch selected on validation, never on test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from snnjax.configs import ExperimentConfig, config_to_dict
from snnjax.train.evaluation import per_layer
from snnjax.train.rundir import RunDir, best_rows

__all__ = ["EpochTiming", "epoch_row", "summarise"]

# Fields of a metrics row (and of results.json) that depend on the machine and the
# moment, not on the computation: they differ between a resumed and an uninterrupted run.
TIMING_FIELDS = (
    "wall_time_s",
    "train_time_s",
    "train_samples_steady",
    "samples_per_s",
    "compile_time_s",
)


class EpochTiming(NamedTuple):
    """Timings of one epoch (seconds).

    Attributes:
      wall: the whole epoch, training and evaluation.
      train: the training steps after the first step of the call (which compiles).
      n_steady: training samples in ``train``.
      compile: the first step of the call, or ``None`` when this epoch is not the first.
    """

    wall: float
    train: float
    n_steady: int
    compile: float | None


def epoch_row(
    epoch: int,
    sums: dict[str, Any],
    val: dict[str, Any] | None,
    test: dict[str, Any] | None,
    names: list[str],
    lr: float,
    timing: EpochTiming,
) -> dict[str, Any]:
    """The ``metrics.jsonl`` row of an epoch.

    Args:
      epoch: the epoch (1-based).
      sums: the training steps' metrics summed over the epoch (host values).
      val, test: :func:`snnjax.train.evaluate` on the validation and test splits (or
        ``None``).
      names: the spiking layers' names.
      lr: the learning rate of the epoch's last step.
      timing: the epoch's timings.
    """
    n = float(sums["n"])
    return {
        "epoch": epoch,
        "train_loss": (
            float(sums["loss_sum"]) / float(sums["loss_finite"])
            if sums["loss_finite"] > 0
            else None
        ),
        "train_loss_infinite_fraction": 1.0 - float(sums["loss_finite"]) / n,
        "train_accuracy": float(sums["correct"]) / n,
        "train_silent_output_fraction": float(sums["silent_outputs"]) / n,
        "validation_accuracy": val["accuracy"] if val else None,
        "test_accuracy": test["accuracy"] if test else None,
        "spikes_per_sample": per_layer(names, sums["spikes"] / n),
        "silent_neurons": (val or test or {}).get("silent_neurons"),
        "silent_neurons_split": "validation" if val else ("test" if test else None),
        "dropped_spikes_per_sample": per_layer(names, sums["dropped"] / n),
        "input_overflow_per_sample": per_layer(names, sums["overflow"] / n),
        "nonfinite_grad_steps": int(sums["nonfinite_grad"]),
        "guarded_weight_columns": int(sums["guarded_columns"]),
        "weight_bump_steps": int(sums["weight_bump"]),
        "lr": lr,
        "wall_time_s": timing.wall,
        "train_time_s": timing.train,
        "train_samples_steady": timing.n_steady,
        "samples_per_s": timing.n_steady / timing.train if timing.train > 0 else None,
        "compile_time_s": timing.compile,
        "validation": val,
        "test": test,
    }


def summarise(
    config: ExperimentConfig,
    history: list[dict[str, Any]],
    run_info: dict[str, Any],
    out: Path,
    checkpoints_dir: str,
    total_time: float,
) -> dict[str, Any]:
    """``results.json`` of a run from its ``metrics.jsonl`` rows.

    Raises:
      RuntimeError: no rows.
    """
    if not history:
        raise RuntimeError(f"{out}: no epochs recorded in metrics.jsonl")
    final = history[-1]
    best, selected_by, max_test = best_rows(history)
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
        "max_test_accuracy_over_epochs": None
        if max_test is None
        else {
            "value": max_test["test_accuracy"],
            "epoch": max_test["epoch"],
            "note": "selected on the test split (as the paper reports); optimistic",
        },
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
        "n_train": run_info["n_train"],
        "n_validation": run_info["n_validation"],
        "n_test": run_info["n_test"],
        "max_input_events": run_info["max_input_events"],
        "input_event_bounds": run_info.get("input_event_bounds", [run_info["max_input_events"]]),
        "layer_names": run_info["layer_names"],
        "readout": run_info["readout"],
        "jax_version": run_info["jax_version"],
        "snnjax_version": run_info["snnjax_version"],
        "device": run_info["device"],
        "checkpoints": {
            "last": f"{checkpoints_dir}/last/{final['epoch']}",
            "best": f"{checkpoints_dir}/best/{best['epoch']}",
        },
        "metrics": str(RunDir(out).metrics_path),
    }
