"""What the training loop tells its user: log lines, warnings and the progress bar.

:class:`Reporter` owns the choices a call of :func:`snnjax.train.train` makes once
(quiet or not, which process writes, where lines go, whether a tqdm bar is shown); the
loop hands it facts (the run's start, each epoch's metrics row) and it words them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm

from snnjax.configs import ExperimentConfig

__all__ = ["Reporter", "epoch_line", "fmt_layers"]


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def fmt_layers(d: dict[str, float], fmt: str = "{:.1f}") -> str:
    """``"hidden1 3.0 output 1.5"``: one formatted value per layer."""
    return " ".join(f"{k} {fmt.format(v)}" for k, v in d.items())


def _epoch_warnings(row: dict[str, Any], config: ExperimentConfig) -> list[str]:
    """The warnings an epoch's metrics row calls for (dropped spikes, input overflow,
    skipped steps, silent outputs)."""
    warnings = []
    # A 1-slot (TTFS) layer keeps only first spikes by design: its later spikes are
    # counted in the metrics but are no reason to warn.
    dropped = {
        k: v
        for (k, v), slots in zip(
            row["dropped_spikes_per_sample"].items(), config.max_spikes, strict=True
        )
        if v > 0 and slots > 1
    }
    if dropped:
        warnings.append(
            f"DROPPED spikes/sample (buffer full, raise max_spikes): "
            f"{fmt_layers(dropped, '{:.3g}')}"
        )
    overflow = {k: v for k, v in row["input_overflow_per_sample"].items() if v > 0}
    if overflow:
        warnings.append(
            f"INPUT OVERFLOW events/sample (raise max_input_events): "
            f"{fmt_layers(overflow, '{:.3g}')}"
        )
    if row["nonfinite_grad_steps"]:
        warnings.append(
            f"{row['nonfinite_grad_steps']} steps with non-finite gradients were skipped"
        )
    n_bumped = row.get("weight_bump_steps", 0)
    if n_bumped:
        warnings.append(
            f"{n_bumped} step{'s' if n_bumped > 1 else ''} bumped the weights of silent "
            "label neurons instead of the optimizer step"
        )
    if row["train_silent_output_fraction"] > 0:
        warnings.append(
            f"all outputs silent for {row['train_silent_output_fraction']:.1%} of train samples"
        )
    dead = _dead_output_warning(row)
    if dead:
        warnings.append(dead)
    return warnings


def _dead_output_warning(row: dict[str, Any]) -> str | None:
    """The warning for output neurons silent on every evaluated sample (``None`` if none).

    A silent neuron gets no gradient (SPEC §4), and a sample whose label neuron is silent
    adds none either: such a neuron does not come back, and when it is a class's output the
    class is lost. The TTFS networks showed it as a collapse (``docs/results.md``, "MNIST at
    the paper's epochs"); weight bumping (``weight_bump``) prevented it there.
    """
    per_layer = list((row.get("silent_neurons") or {}).values())
    if not per_layer or per_layer[-1] <= 0:  # the output layer is the last
        return None
    fraction = per_layer[-1]
    split = row.get("silent_neurons_split") or "evaluated"
    return (
        f"DEAD OUTPUT NEURONS: {fraction:.0%} of the output layer never fires on the "
        f"{split} samples (silent neurons get no gradient and do not recover; for TTFS "
        "readouts set weight_bump, e.g. 0.005, or raise alpha, the Fast & Deep "
        "regulariser)"
    )


def epoch_line(row: dict[str, Any], config: ExperimentConfig) -> tuple[str, bool]:
    """The log line of an epoch's metrics row, and whether it carries warnings."""
    val, test = row["validation"], row["test"]
    line = (
        f"epoch {row['epoch']}/{config.epochs}  loss {row['train_loss'] or math.inf:.4f}  "
        f"train {100 * row['train_accuracy']:.2f}%"
    )
    if val:
        line += f"  val {100 * val['accuracy']:.2f}%"
    if test:
        line += f"  test {100 * test['accuracy']:.2f}%"
    line += f"  spikes/sample {fmt_layers(row['spikes_per_sample'])}"
    if row["silent_neurons"]:
        line += f"  silent neurons {fmt_layers(row['silent_neurons'], '{:.0%}')}"
    if row["samples_per_s"]:
        line += f"  {row['wall_time_s']:.1f} s ({row['samples_per_s']:.0f} samples/s)"
    warnings = _epoch_warnings(row, config)
    if warnings:
        line += "  | " + "; ".join(warnings)
    return line, bool(warnings)


class Reporter:
    """Log lines and the progress bar of one training call.

    Args:
      quiet: print only warnings (no progress bar, no epoch lines).
      progress: show a tqdm progress bar; ``None``: when stderr is a terminal and not
        quiet.
      log: function receiving each line (default: ``print``, or ``tqdm.write`` while a
        progress bar is shown).
      primary: whether this process reports (multi-process runs: process 0 only).
    """

    def __init__(
        self,
        *,
        quiet: bool = False,
        progress: bool | None = None,
        log: Callable[[str], None] | None = None,
        primary: bool = True,
    ):
        show_bar = (not quiet and _is_tty(sys.stderr)) if progress is None else bool(progress)
        self.emit = log if log is not None else (tqdm.write if show_bar else print)
        self.quiet = quiet
        self.primary = primary
        self.show_bar = show_bar and primary

    def info(self, msg: str) -> None:
        """A line shown unless quiet (by the primary process)."""
        if not self.quiet and self.primary:
            self.emit(msg)

    def warn(self, msg: str) -> None:
        """A line shown even when quiet (by the primary process)."""
        if self.primary:
            self.emit(msg)

    def progress_bar(self, epoch: int, epochs: int, steps: int):
        """A tqdm bar over one epoch's ``steps`` (disabled unless shown)."""
        return tqdm(
            total=steps,
            desc=f"epoch {epoch}/{epochs}",
            disable=not self.show_bar,
            leave=False,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def step_done(self, bar, i: int, metrics: dict[str, Any]) -> None:
        """Advance ``bar`` after step ``i``; every 20 steps show that step's loss."""
        if not self.show_bar:
            return
        bar.update(1)
        if i % 20 == 0:
            loss = float(metrics["loss_sum"]) / max(float(metrics["loss_finite"]), 1.0)
            bar.set_postfix(loss=f"{loss:.4f}")

    def start(
        self, config: ExperimentConfig, run_info: dict[str, Any], steps_per_epoch: int
    ) -> None:
        """The lines that open the training of ``config`` (data, layers, device, bound)."""
        self.info(
            f"training {config.name}: {config.dataset} ({run_info['data_source']}), "
            f"{run_info['n_train']} train / {run_info['n_validation']} validation / "
            f"{run_info['n_test']} test samples, layers "
            f"{' '.join(run_info['layer_names'])}, {config.epochs} epochs of "
            f"{steps_per_epoch} steps, device {run_info['device']}"
        )
        if run_info["max_input_events"] is not None:
            self.info(
                f"input-event bound of the first layer: {run_info['max_input_events']} "
                f"(largest active-input count of a sample: "
                f"{run_info['max_active_inputs']})"
            )
        later = run_info.get("input_event_bounds", [])[1:]
        if any(b is not None for b in later):
            most = run_info.get("event_bound_calibration", {}).get("most_events")
            self.info(
                f"input-event bounds of the later layers: {later}"
                + (f" (calibrated: most spikes of a sample into them {most[1:]})" if most else "")
            )

    def epoch(self, row: dict[str, Any], config: ExperimentConfig) -> None:
        """The epoch's line: a warning when it carries warnings, else an info line."""
        line, has_warnings = epoch_line(row, config)
        (self.warn if has_warnings else self.info)(line)
