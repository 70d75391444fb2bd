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
# # Training MNIST (a reduced run)
#
# This tutorial trains the multi-spike MNIST network of Bacho & Chu (2023) — 784 input
# neurons, one per pixel, a hidden layer and 10 output neurons, up to 30 spikes per neuron
# — from the original MNIST files.
#
# > **This is a reduced run.** So that the documentation builds in seconds, this page
# > trains on **5,000** of the 60,000 training images for **3 epochs**, with a hidden layer
# > of **200** neurons instead of 800, and evaluates 1,000 validation and 1,000 test
# > images. It reaches roughly 85 % test accuracy. The paper's experiment (784-800-10,
# > 100 epochs; snnjax measured 98.8 % after 20 epochs) is one command:
# >
# > ```bash
# > snnjax train mnist_multispike --data-dir ../shared/data/mnist \
# >     --out runs/mnist_multispike-seed0
# > ```
# >
# > It runs at roughly 1,000 training samples per second on a 2-core CPU, about a minute
# > per epoch (see [Performance](../../performance/)); `--epochs 20` gives the number
# > above.

# %%
import os
import tempfile
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from snnjax.configs import get_config
from snnjax.reports.plot import plot_network_raster, plot_training_curves
from snnjax.train import RunDir, evaluate_run, load_run, prepare_data, restore_run, train

# %% [markdown]
# ## Finding the data
#
# snnjax never downloads anything by itself. It reads the four original IDX files
# (`train-images-idx3-ubyte.gz`, ...), gzip-compressed or not, and checks each against its
# known md5. [`snnjax.data.load_dataset`][snnjax.data.load_dataset] looks in `data_dir`
# (the `--data-dir` flag), then in the directory named by the environment variable
# `SNNJAX_DATA_DIR`; a directory may hold the files directly or in a `mnist/`
# subdirectory.
#
# This page uses `SNNJAX_DATA_DIR` when it is set, and otherwise the project's offline copy
# in `shared/data` beside the repository. If neither has MNIST, the page **fails** with a
# message saying where it looked: a tutorial that silently skipped its training would
# document nothing.


# %%
def find_data_dir() -> Path:
    """A directory holding the MNIST IDX files (directly or in ``mnist/``)."""
    candidates = []
    if os.environ.get("SNNJAX_DATA_DIR"):
        candidates.append(Path(os.environ["SNNJAX_DATA_DIR"]))
    # shared/data beside the repository (the docs are built from inside the repository)
    candidates += [parent / "shared" / "data" for parent in Path.cwd().resolve().parents]
    for d in candidates:
        for sub in (d, d / "mnist"):
            if (sub / "train-images-idx3-ubyte.gz").exists() or (
                sub / "train-images-idx3-ubyte"
            ).exists():
                return sub
    raise FileNotFoundError(
        "MNIST not found. This tutorial needs the original IDX files "
        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz). Put them in a directory and set SNNJAX_DATA_DIR to it. "
        f"Looked in: {', '.join(str(c) for c in candidates)}"
    )


data_dir = find_data_dir()
print("MNIST from", data_dir.name + "/")

# %% [markdown]
# ## The configuration, reduced
#
# `mnist_multispike` holds the hyper-parameters of the authors' scripts: thresholds 0.2
# and 1.3, buffers of 30 spikes, a 0.2 s simulation window, the spike-count loss with
# targets 15 (label neuron) and 3 (others), Adam with learning rate 0.003 and batches of
# 50. We override only the size of the run:
#
# - `train_subset=5000`: the first 5,000 training images (after holding out the validation
#   set, which is always the same, whatever the seed);
# - `n_validation=1000`, `test_subset=1000`: smaller validation and test sets;
# - `sizes=784,200,10`: 200 hidden neurons instead of 800;
# - `epochs=3`.

# %%
config = get_config(
    "mnist_multispike",
    ["train_subset=5000", "n_validation=1000", "test_subset=1000", "sizes=784,200,10", "epochs=3"],
)
full = get_config("mnist_multispike")
for field in (
    "sizes",
    "thetas",
    "max_spikes",
    "t_max",
    "t_window",
    "n_true",
    "n_false",
    "lr",
    "batch_size",
    "epochs",
    "train_subset",
    "n_validation",
    "test_subset",
):
    print(f"{field:>13}: {getattr(config, field)!s:<14} (full run: {getattr(full, field)})")

# %% [markdown]
# ## Latency coding
#
# Each pixel is one input neuron that fires **once**, earlier the brighter it is:
# `t = t_window (1 - pixel/255)`, and a black pixel never fires
# ([`snnjax.encoding.latency_encode`][snnjax.encoding.latency_encode]). With
# `t_window = 0.1 s`, the white strokes of a digit spike at once and the grey border
# follows. [`prepare_data`][snnjax.train.prepare_data] loads and encodes all three splits
# once; we pass the result to `train` so that it is not loaded twice.

# %%
data = prepare_data(config, data_dir)
print(data.source)
print(
    {name: len(getattr(data, name)) for name in ("train", "validation", "test")},
    "| input spikes of the busiest sample:",
    data.max_active_inputs,
)

times = data.train.times[0, :, 0].reshape(28, 28)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
im = axes[0].imshow(np.where(np.isfinite(times), times * 1e3, np.nan), cmap="viridis_r")
fig.colorbar(im, ax=axes[0], label="spike time (ms)")
axes[0].set_title(f"input spike times, label {int(data.train.labels[0])}")
axes[0].axis("off")
active = np.isfinite(data.train.times[:500])
axes[1].hist(data.train.times[:500][active] * 1e3, bins=50)
axes[1].set_xlabel("input spike time (ms)")
axes[1].set_ylabel("input spikes (500 images)")
axes[1].set_title(f"{active.sum(axis=(1, 2)).mean():.0f} of 784 pixels spike per image")
fig.tight_layout()
plt.show()

# %% [markdown]
# Only the active pixels are events for the layer, so the cost of the first layer grows
# with the number of input spikes, not with the 784 inputs. The training loop computes a
# static bound on the events per sample from the data (here the busiest image) and counts
# any sample that would exceed it; nothing is dropped silently.
#
# ## Training
#
# The first epoch includes compiling the training step; later epochs take a few seconds.

# %%
workdir = tempfile.TemporaryDirectory()
run_dir = Path(workdir.name) / "mnist_multispike_reduced"
results = train(config, run_dir, data=data, progress=False)

# %% [markdown]
# The epoch lines can end with diagnostics: the share of training samples whose outputs
# were all silent (no prediction is possible for those; they count as errors), and the
# spikes per sample that were dropped because a neuron's buffer of 30 was full (here a
# handful in a thousand samples; a larger value means `max_spikes` is too small). Both are
# also in `metrics.jsonl` and `results.json`, which
# [`RunDir`][snnjax.train.RunDir] reads (and `train` writes):

# %%
rows = RunDir(run_dir).read_metrics()
for key in (
    "test_accuracy",
    "best_epoch",
    "best_test_accuracy",
    "spikes_per_sample",
    "silent_neurons",
    "dropped_spikes_per_sample",
):
    print(f"{key:>26}: {results[key]}")

files = plot_training_curves(
    {"reduced MNIST": rows},
    run_dir / "curves.png",
    metrics=("train_loss", "train_accuracy", "validation_accuracy"),
)
display(Image(filename=files.png))

# %% [markdown]
# ## One digit through the network
#
# The spike raster of the first test digit: the input (one spike per active pixel), the
# hidden layer and the 10 output neurons. With the spike-count readout, the prediction is
# the output neuron with the most spikes.

# %%
cfg, run_info = load_run(run_dir)
restored = restore_run(run_dir, cfg, run_info, data, checkpoint="best")
variables = {"params": restored.params}
sample = data.test.times[0]
out = restored.model.apply(variables, sample[None])
counts = np.isfinite(np.asarray(out.times[0])).sum(axis=-1)
print("output spike counts per class:", counts.tolist())
print("label:", int(data.test.labels[0]))
files = plot_network_raster(
    restored.model,
    variables,
    sample,
    run_dir / "raster.png",
    title=f"test digit 0 (label {int(data.test.labels[0])})",
    t_max=cfg.t_max,
)
display(Image(filename=files.png))

# %% [markdown]
# ## Evaluating the checkpoint
#
# [`evaluate_run`][snnjax.train.evaluate_run] is `snnjax eval`: it rebuilds the model from
# the run directory and evaluates a checkpoint on a split. Its accuracy on the best
# checkpoint equals `best_test_accuracy`.

# %%
ev = evaluate_run(run_dir, checkpoint="best", split="test", data=data)
print(
    f"accuracy {ev['accuracy']:.3f} on {ev['n']} test images "
    f"(epoch {ev['epoch']}); results.json: {results['best_test_accuracy']:.3f}"
)
print("spikes per sample:", {k: round(v, 1) for k, v in ev["spikes_per_sample"].items()})
assert abs(ev["accuracy"] - results["best_test_accuracy"]) < 1e-9
workdir.cleanup()
print("jax", jax.__version__, "on", jax.default_backend())

# %% [markdown]
# From here, the same run directory can be compared with a TTFS run in a
# [trade-off report](../trade_off_report/), or its robustness measured as in
# [the robustness tutorial](../robustness/).
