# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training Yin-Yang from Python
#
# The Yin-Yang dataset (Kriener et al., 2022) is the small benchmark of event-based
# training: points in a 2-D yin-yang symbol, three classes (yin, yang, dot), that no
# linear classifier can separate. It is generated procedurally, so this tutorial needs no
# download.
#
# We train a multi-spike network with the **Python API** — the same code path as the
# `snnjax train` command — then read what a run leaves on disk (`results.json`,
# `metrics.jsonl`, checkpoints), plot the learning curve and look at the spikes the
# trained network fires for one sample.
#
# To keep the documentation build fast, the run here is **5 epochs** instead of the
# config's 60. The full run is one command:
#
# ```bash
# snnjax train yinyang_multispike --out runs/yinyang_multispike-seed0
# ```

# %%
import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

import snnjax
from snnjax.configs import get_config
from snnjax.data import YINYANG_CLASS_NAMES, yinyang
from snnjax.losses import accuracy, predict_from_counts, spike_counts
from snnjax.reports.plot import plot_network_raster, plot_training_curves
from snnjax.train import evaluate_run, load_run, prepare_data, restore_run, train

# %% [markdown]
# ## The data
#
# Each sample is a point `(x, y)` in the unit square, given to the network as four
# features `(x, y, 1 - x, 1 - y)` (the mirrored pair keeps the total input the same for
# every point). `snnjax.data.yinyang` ([`snnjax.data`][snnjax.data]) returns exactly the published
# splits: 5000 training, 1000 validation and 1000 test samples.

# %%
samples, labels = yinyang("test")
fig, ax = plt.subplots(figsize=(4, 4))
for c, name in enumerate(YINYANG_CLASS_NAMES):
    ax.scatter(*samples[labels == c, :2].T, s=4, label=name)
ax.set_aspect("equal")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper right", fontsize=8, markerscale=3)
ax.set_title("Yin-Yang test split")
plt.show()

# %% [markdown]
# ## The configuration
#
# An experiment is one frozen [`ExperimentConfig`][snnjax.configs.ExperimentConfig].
# [`get_config`][snnjax.configs.get_config] looks up a named config and applies
# `key=value` overrides — the strings of the command line's `--set` flag, converted to the
# field's type. Here we only shorten the run to 5 epochs.
#
# The features are **latency coded**: feature `f` becomes one input spike at `f * t_window`,
# plus a fifth "bias" input spiking at `bias_time`; hence 5 inputs. The hidden layer has
# 120 neurons with a buffer of up to 10 spikes each, the output layer 3 neurons with up to
# 15. The spike-count loss asks the label neuron to fire `n_true` spikes and the others
# `n_false`; the prediction is the output neuron with the most spikes.

# %%
config = get_config("yinyang_multispike", ["epochs=5"])
for field in (
    "sizes",
    "thetas",
    "max_spikes",
    "tau_syn",
    "t_max",
    "t_window",
    "loss",
    "n_true",
    "n_false",
    "lr",
    "batch_size",
    "epochs",
):
    print(f"{field:>10} = {getattr(config, field)}")

# %% [markdown]
# ## Training
#
# [`snnjax.train.train`][snnjax.train.train] runs the epoch loop: it encodes the data,
# compiles one training step (the exact gradient of the loss through all spike times),
# evaluates the validation and test splits after every epoch, and writes checkpoints. The
# first epoch includes the compilation. We train into a temporary directory; re-running
# `train` with the same directory would resume from its last checkpoint.

# %%
workdir = tempfile.TemporaryDirectory()
run_dir = Path(workdir.name) / "yinyang_multispike"
results = train(config, run_dir, progress=False)

# %% [markdown]
# ## What a run leaves on disk

# %%
for path in sorted(run_dir.iterdir()):
    print(path.name + ("/" if path.is_dir() else ""))

# %% [markdown]
# `results.json` is the run's summary. The **best epoch** is selected on the validation
# split (never on the test split), and `best_test_accuracy` is the test accuracy of that
# checkpoint. `spikes_per_sample` counts the spikes of each layer per test sample;
# `dropped_spikes_per_sample` counts spikes a neuron fired beyond its buffer (snnjax
# reports these instead of losing them silently: a nonzero value means `max_spikes` is
# too small).

# %%
results = json.loads((run_dir / "results.json").read_text())
for key in (
    "test_accuracy",
    "best_epoch",
    "best_test_accuracy",
    "selected_by",
    "spikes_per_sample",
    "spikes_per_sample_total",
    "silent_neurons",
    "dropped_spikes_per_sample",
    "train_samples_per_s",
):
    print(f"{key:>26}: {results[key]}")

# %% [markdown]
# `metrics.jsonl` has one JSON object per epoch:

# %%
rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
print(f"{'epoch':>5} {'loss':>8} {'train':>7} {'valid':>7} {'test':>7} {'spikes/sample':>14}")
for r in rows:
    spikes = sum(r["spikes_per_sample"].values())
    print(
        f"{r['epoch']:>5} {r['train_loss']:>8.3f} {r['train_accuracy']:>7.1%} "
        f"{r['validation_accuracy']:>7.1%} {r['test_accuracy']:>7.1%} {spikes:>14.1f}"
    )

# %% [markdown]
# ## The learning curve
#
# [`snnjax.reports.plot`][snnjax.reports.plot] draws the trade-off figures. Every function
# writes a PNG together with a CSV of the plotted numbers (so a figure can always be re-made or
# checked) and returns both paths; it never touches pyplot's global state.

# %%
files = plot_training_curves({"yinyang_multispike": rows}, run_dir / "curves.png")
print(files.csv.name, "holds", len(files.csv.read_text().splitlines()) - 1, "points")
display(Image(filename=files.png))

# %% [markdown]
# Five epochs get far above the chance level of 33 %; the full 60-epoch run of
# `yinyang_multispike` reaches about 92 % (see [Results](../../results/) for the measured
# numbers of every configuration).
#
# ## The spikes of one sample
#
# To look inside the network we restore a checkpoint.
# [`load_run`][snnjax.train.load_run] reads the run's config,
# [`prepare_data`][snnjax.train.prepare_data] encodes its data exactly as in training, and
# [`restore_run`][snnjax.train.restore_run] rebuilds the model (a Flax
# [`SpikingNetwork`][snnjax.nn.SpikingNetwork]) and loads the validation-selected `best`
# checkpoint.

# %%
cfg, run_info = load_run(run_dir)
data = prepare_data(cfg, splits=("test",))
restored = restore_run(run_dir, cfg, run_info, data, checkpoint="best")
variables = {"params": restored.params}
print("restored epoch", restored.epoch, "of", cfg.name)
print("test inputs:", data.test.times.shape, "(samples, input neurons, spike slots)")

# %% [markdown]
# The model's `apply` takes a batch of input trains `[B, n_in, K_in]` and returns a
# [`NetworkOutput`][snnjax.nn.NetworkOutput] with the spike trains of every layer. The
# spike-count readout is
# [`predict_from_counts`][snnjax.losses.predict_from_counts]: the output neuron with the
# most spikes wins, a tie goes to the one that fired first, and a sample whose outputs are
# all silent is predicted as `-1` (wrong), never as class 0. Applied to the whole test
# split, it reproduces the accuracy of the run:

# %%
out = restored.model.apply(variables, data.test.times)
pred, silent = predict_from_counts(out.times)
print(
    "test accuracy:",
    float(accuracy(pred, data.test.labels)),
    "| silent samples:",
    int(silent.sum()),
)

# %% [markdown]
# Now one sample: the first test sample that the network gets right. Its five input
# spikes, its output spike counts, and a raster of every layer drawn by
# [`plot_network_raster`][snnjax.reports.plot.plot_network_raster]:

# %%
i = int(np.flatnonzero(np.asarray(pred) == data.test.labels)[0])
sample, label = data.test.times[i], int(data.test.labels[i])
print(f"test sample {i}, input spike times (ms):", np.round(sample[:, 0] * 1e3, 1))
counts = np.asarray(spike_counts(out.times[i]))
print("output spike counts:", dict(zip(YINYANG_CLASS_NAMES, counts.tolist(), strict=True)))
print("prediction:", YINYANG_CLASS_NAMES[int(pred[i])], "| label:", YINYANG_CLASS_NAMES[label])

files = plot_network_raster(
    restored.model,
    variables,
    sample,
    run_dir / "raster.png",
    title=f"test sample {i} (label: {YINYANG_CLASS_NAMES[label]})",
    t_max=cfg.t_max,
)
display(Image(filename=files.png))

# %% [markdown]
# The hidden layer answers the five input spikes with a burst of activity, and the output
# neuron of the label class fires most. Every one of these spike times is an exact
# solution of the neuron's equations, not a time-step approximation. (`silent_neurons` in
# `results.json` said that over a third of the hidden neurons never fire on the test set:
# after 5 epochs the network does not use them yet.)
#
# ## Evaluating a saved run
#
# [`evaluate_run`][snnjax.train.evaluate_run] (the `snnjax eval` command) evaluates any
# checkpoint on any split. On the best checkpoint and the test split it reproduces
# `best_test_accuracy` from `results.json`:

# %%
ev = evaluate_run(run_dir, checkpoint="best", split="test")
print("evaluate_run accuracy:", ev["accuracy"], "| results.json:", results["best_test_accuracy"])
assert abs(ev["accuracy"] - results["best_test_accuracy"]) < 1e-9

workdir.cleanup()
print("snnjax", snnjax.__version__)
