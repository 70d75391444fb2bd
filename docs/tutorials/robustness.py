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
# # A robustness sweep with `vmap` over noise seeds
#
# How much noise can a trained spiking network take? Bacho & Chu (2023) perturb the input
# spike times, delete input spikes and perturb the weights, and compare accuracies. Each
# point of such a curve is an average over many random draws of the noise (**noise
# seeds**), so a sweep is `levels x seeds` evaluations of the whole test set.
#
# [`snnjax.analysis`][snnjax.analysis] evaluates all seeds of a level in **one compiled
# call**: the per-seed evaluation is a pure function of a random key, and `jax.vmap` maps
# it over the seed keys. This tutorial
#
# 1. trains a small Yin-Yang network (5 epochs, a few seconds),
# 2. looks at one perturbation and at one noisy forward pass,
# 3. checks that the vmapped sweep gives exactly the numbers of a plain Python loop over
#    the seeds, and
# 4. plots accuracy against the noise level for three kinds of noise.

# %%
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from IPython.display import Image, display

from snnjax import analysis
from snnjax.configs import get_config
from snnjax.losses import accuracy, predict_from_counts
from snnjax.reports.plot import plot_accuracy_vs_noise
from snnjax.reports.tradeoffs import load_trained_run
from snnjax.train import train

# %% [markdown]
# ## A quickly trained network
#
# Five epochs of `yinyang_multispike` (the full config trains 60). We then load the run
# with [`load_trained_run`][snnjax.reports.tradeoffs.load_trained_run], which restores the
# validation-selected checkpoint and encodes the test split exactly as in training. To keep
# the page fast we evaluate the first 500 of the 1000 test samples.

# %%
workdir = tempfile.TemporaryDirectory()
run_dir = Path(workdir.name) / "yinyang_multispike"
train(get_config("yinyang_multispike", ["epochs=5"]), run_dir, quiet=True)

run = load_trained_run(run_dir, split="test", n_samples=500)
model, variables = run.model, {"params": run.params}
x, y = run.input_times, run.labels
print(f"{run.name}: epoch {run.epoch}, readout {run.readout!r}, test inputs {x.shape}")

clean_pred, _ = predict_from_counts(model.apply(variables, x).times)
print("clean test accuracy:", float(accuracy(clean_pred, y)))

# %% [markdown]
# ## One perturbation
#
# [`jitter_spike_times`][snnjax.analysis.jitter_spike_times] adds Gaussian noise of standard
# deviation `sigma` (seconds) to every spike time, clips at 0 and re-sorts each train;
# empty slots (`inf`) stay empty. Here the five input spikes of one sample, 5 ms jitter:

# %%
key = jax.random.key(0)
sample = x[0]
print("clean   (ms):", np.round(sample[:, 0] * 1e3, 2))
print(
    "jittered (ms):",
    np.round(np.asarray(analysis.jitter_spike_times(sample, 5e-3, key))[:, 0] * 1e3, 2),
)

# %% [markdown]
# [`noisy_outputs`][snnjax.analysis.noisy_outputs] runs the network once under one draw of
# the noise: it is exactly what a sweep evaluates for one seed and one level. Sample `i` of
# the data set gets the key `fold_in(seed_key, i)`, so its noise does not depend on how the
# data set is cut into batches.

# %%
seed_keys = jax.random.split(jax.random.key(0), 8)  # what a sweep with key=0, n_seeds=8 uses
out = analysis.noisy_outputs("input_jitter", model, variables, x, 5e-3, seed_keys[0])
pred, _ = predict_from_counts(out.times)
print("accuracy under 5 ms input jitter, seed 0:", float(accuracy(pred, y)))

# %% [markdown]
# ## The sweep: all seeds in one `vmap`
#
# [`input_jitter_sweep`][snnjax.analysis.input_jitter_sweep] (a shortcut for
# [`robustness_sweep`][snnjax.analysis.robustness_sweep] with `kind="input_jitter"`)
# evaluates every level for `n_seeds` seeds. The level is a traced argument, so one
# compilation serves all levels. The result holds the accuracy of every (level, seed) pair
# in `per_seed`, and its mean and standard deviation over the seeds.

# %%
sigmas = [0.0, 1e-3, 2e-3, 5e-3, 10e-3, 20e-3]
t0 = time.perf_counter()
jitter = analysis.input_jitter_sweep(
    model, variables, x, y, sigmas, n_seeds=8, key=0, seed_mode="vmap"
)
print(
    f"{len(sigmas)} levels x 8 seeds x {jitter.n_samples} samples: "
    f"{time.perf_counter() - t0:.1f} s (compilation included)"
)
print("per_seed shape:", jitter.per_seed.shape)
for s, m, sd in zip(sigmas, jitter.mean, jitter.std, strict=True):
    print(f"  sigma {s * 1e3:4.0f} ms: accuracy {m:.3f} ± {sd:.3f}")
print("input events beyond the layers' bounds:", int(jitter.n_input_overflow.sum()))

# %% [markdown]
# Two properties make the curve easy to read. The same draws `eps` are used at every level
# (**common random numbers**: the level only scales them), so the curve is smooth in the
# level; and level 0 is exactly the clean network, whose accuracy has no spread. The
# `n_input_overflow` count says whether any perturbed sample exceeded the static bound on
# input events that the layers were compiled with (nonzero would make those accuracies
# untrustworthy).
#
# ## The same numbers as a Python loop
#
# `vmap` is only a faster way to run the same function: it must not change the result. We
# check that against two independent references, for the first two seeds:
#
# - `python_loop=True` runs the very same jitted per-seed function in a Python loop;
# - a hand-written loop over seeds and levels with `noisy_outputs` and the public readout.

# %%
two = analysis.input_jitter_sweep(
    model, variables, x, y, sigmas, n_seeds=2, key=0, seed_mode="vmap"
)
loop = analysis.input_jitter_sweep(
    model, variables, x, y, sigmas, n_seeds=2, key=0, python_loop=True
)

keys = jax.random.split(jax.random.key(0), 2)
by_hand = np.zeros((len(sigmas), 2))
for s, seed_key in enumerate(keys):
    for li, sigma in enumerate(sigmas):
        out = analysis.noisy_outputs("input_jitter", model, variables, x, sigma, seed_key)
        by_hand[li, s] = float(accuracy(predict_from_counts(out.times)[0], y))

print("vmap        :", two.per_seed.T.round(3).tolist())
print("python loop :", loop.per_seed.T.round(3).tolist())
print("by hand     :", by_hand.T.round(3).tolist())
print("vmap == python loop:", np.array_equal(two.per_seed, loop.per_seed))
print("vmap == by hand    :", np.allclose(two.per_seed, by_hand, atol=1e-12))
assert np.array_equal(two.per_seed, loop.per_seed)
assert np.allclose(two.per_seed, by_hand, atol=1e-12)

# %% [markdown]
# Seed `s` uses the key `jax.random.split(key, n_seeds)[s]`. With JAX's default
# partitionable Threefry random numbers (`jax_threefry_partitionable`), the `s`-th key of a
# split does not depend on `n_seeds`, so the two seeds above are also the first two seeds
# of the 8-seed sweep:

# %%
print("jax_threefry_partitionable:", jax.config.jax_threefry_partitionable)
print(
    "2-seed sweep == first 2 seeds of the 8-seed sweep:",
    np.array_equal(two.per_seed, jitter.per_seed[:, :2]),
)

# %% [markdown]
#
# Under `vmap`, snnjax's compiled CPU kernel folds all seeds into one call (one weight set
# per seed for weight noise), and on accelerators the pure-JAX kernels are vectorised over
# `seeds x batch` samples. On the CPU that one big call is nevertheless slower than taking
# the seeds one at a time: the activity and weight sets of every seed at once do not stay in
# cache. The sweep's `seed_mode` option chooses how the seeds are batched (`"vmap"`,
# `"fold"` into the batch axis, or a sequential `"map"`); the default `"auto"` picks `"map"`
# on the CPU (measured fastest there with `benchmarks/bench_robustness.py`) and `"vmap"`
# elsewhere. All give the same accuracies on the CPU kernel.
#
# ## Other kinds of noise
#
# Besides input jitter: deleting each input spike with probability `p`
# ([`input_deletion_sweep`][snnjax.analysis.input_deletion_sweep]) and multiplicative
# weight noise `w (1 + sigma eps)`
# ([`weight_noise_sweep`][snnjax.analysis.weight_noise_sweep]; one noisy network per
# seed). A fourth kind, [`hidden_jitter_sweep`][snnjax.analysis.hidden_jitter_sweep],
# jitters the spike times passed between layers (a hardware-like noise); it is left out
# here only because it takes longer to compile.

# %%
deletion = analysis.input_deletion_sweep(
    model, variables, x, y, [0.0, 0.05, 0.1, 0.2, 0.3, 0.5], n_seeds=8, key=0
)
weights = analysis.weight_noise_sweep(
    model, variables, x, y, [0.0, 0.05, 0.1, 0.2, 0.3, 0.5], n_seeds=8, key=0
)

# %% [markdown]
# [`plot_accuracy_vs_noise`][snnjax.reports.plot.plot_accuracy_vs_noise] draws mean ± std
# over the seeds and writes the numbers to a CSV next to the PNG. Jitter levels are in seconds; we
# plot them in ms with `level_scale`.

# %%
plots = Path(workdir.name) / "plots"
files = plot_accuracy_vs_noise(
    {"input jitter": jitter},
    plots / "jitter.png",
    xlabel="input jitter sigma (ms)",
    level_scale=1e3,
    title="Gaussian jitter of the input spike times",
)
display(Image(filename=files.png))
files = plot_accuracy_vs_noise(
    {"input deletion (p)": deletion, "weight noise (relative sigma)": weights},
    plots / "deletion_weights.png",
    xlabel="noise level",
    title="deleted input spikes, weight noise",
)
display(Image(filename=files.png))
print(files.csv.read_text().splitlines()[:3])

# %% [markdown]
# How to read these curves, for this briefly trained network: a Yin-Yang sample is only
# five input spikes, so deleting even one of them (the bias spike included) removes much
# of the information, and accuracy falls quickly with `p`. Jitter of 1–2 ms is harmless
# (the features are spread over a 200 ms window) and costs more as `sigma` grows. Even 5 %
# weight noise costs a lot here, with a large spread across seeds: each weight-noise seed
# is one noisy network, so the spread is the variation between noisy copies of the
# network.
# Whether TTFS or multi-spike networks cope better with each kind of noise is one of the
# paper's claims; [the trade-off report](../trade_off_report/) runs these sweeps for
# every run it compares.

# %%
workdir.cleanup()
