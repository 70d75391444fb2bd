"""The training log's per-epoch warnings (snnjax.train.reporting)."""

from __future__ import annotations

from snnjax.configs import get_config
from snnjax.train.reporting import epoch_line


def _row(silent_output_neurons: float, silent_samples: float = 0.0) -> dict:
    layers = {"hidden1": 0.0, "output": silent_output_neurons}
    zeros = {"hidden1": 0.0, "output": 0.0}
    return {
        "epoch": 16,
        "train_loss": 2.2871,
        "train_accuracy": 0.0067,
        "validation": {"accuracy": 0.0062},
        "test": {"accuracy": 0.0049},
        "spikes_per_sample": {"hidden1": 655.9, "output": 0.0},
        "silent_neurons": layers,
        "silent_neurons_split": "validation",
        "dropped_spikes_per_sample": zeros,
        "input_overflow_per_sample": zeros,
        "nonfinite_grad_steps": 0,
        "train_silent_output_fraction": silent_samples,
        "wall_time_s": 88.0,
        "samples_per_s": 687.0,
    }


def test_dead_output_neurons_are_a_warning_naming_the_remedy():
    # The metrics row of the collapsed mnist_ttfs epoch 16 (docs/results.md).
    line, warned = epoch_line(_row(0.7, 0.9933), get_config("mnist_ttfs"))
    assert warned
    assert "DEAD OUTPUT NEURONS: 70% of the output layer" in line
    assert "validation samples" in line
    assert "alpha" in line
    assert "all outputs silent for 99.3% of train samples" in line


def test_a_healthy_epoch_has_no_dead_neuron_warning():
    line, warned = epoch_line(_row(0.0), get_config("mnist_ttfs"))
    assert not warned
    assert "DEAD" not in line


def test_bumped_steps_are_reported_in_the_epoch_line():
    row = _row(0.0)
    line, _ = epoch_line(row, get_config("mnist_ttfs"))
    assert "bumped" not in line  # rows of runs without weight bumping
    for n, text in ((1, "1 step bumped"), (3, "3 steps bumped")):
        line, _ = epoch_line({**row, "weight_bump_steps": n}, get_config("mnist_ttfs"))
        assert f"{text} the weights of silent label neurons" in line
