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
# # Reading a trade-off report
#
# Bacho & Chu (2023) claim that single-spike (time-to-first-spike, TTFS) networks trade
# accuracy and robustness for sparsity and latency, and that letting neurons fire several
# times gives higher accuracy, faster convergence, similar sparsity, comparable latency
# and better robustness to noise.
# [`snnjax.reports.tradeoffs.tradeoff_report`][snnjax.reports.tradeoffs.tradeoff_report] (the
# `snnjax tradeoffs` command) measures all of these for any set of trained runs and writes
# them side by side.
#
# This tutorial trains a multi-spike and a TTFS network on Yin-Yang for a few epochs,
# builds their report and explains every measure in it.
#
# > **Short runs, one seed.** The networks below are trained for 5 epochs (the configs
# > train 60) and evaluated on 500 test samples with 4 noise seeds, so that the page builds
# > quickly. The numbers illustrate how to read the report; they are not results. The
# > measured trade-offs of full-length runs are on the [Results](../../results/) page.

# %%
import tempfile
import time
from pathlib import Path

from IPython.display import Image, Markdown, display

from snnjax.configs import get_config
from snnjax.reports.tradeoffs import load_runs, measure_tradeoffs, write_tradeoff_report
from snnjax.train import train

# %% [markdown]
# ## Two runs
#
# `yinyang_multispike` (buffers of 10 and 15 spikes, spike-count loss, prediction = most
# spikes) and `yinyang_ttfs` (one spike per neuron, softmax cross-entropy on the first
# spike times, prediction = earliest output spike). Same network size (5-120-3), same
# data, same seed.

# %%
workdir = Path(tempfile.mkdtemp())
for name in ("yinyang_multispike", "yinyang_ttfs"):
    results = train(get_config(name, ["epochs=5"]), workdir / name, quiet=True)
    print(
        f"{name}: test accuracy {results['test_accuracy']:.3f}, "
        f"{results['spikes_per_sample_total']:.0f} spikes per sample"
    )

# %% [markdown]
# ## The report
#
# A report is three steps: [`load_runs`][snnjax.reports.tradeoffs.load_runs] restores each
# run's validation-selected (`best`) checkpoint and re-encodes its test split exactly as in
# training; [`measure_tradeoffs`][snnjax.reports.tradeoffs.measure_tradeoffs] measures
# everything with [`snnjax.analysis`][snnjax.analysis] and writes no file;
# [`write_tradeoff_report`][snnjax.reports.tradeoffs.write_tradeoff_report] writes the
# tables, the plots and `report.md`. `tradeoff_report(runs, report_dir, n_samples=500,
# noise_seeds=4)` does all three in one call, as does the command line:
#
# ```bash
# snnjax tradeoffs runs/yinyang_multispike runs/yinyang_ttfs --out runs/report \
#     --n-samples 500 --noise-seeds 4
# ```

# %%
runs = load_runs([workdir / "yinyang_multispike", workdir / "yinyang_ttfs"], n_samples=500)
t0 = time.perf_counter()
measurements = measure_tradeoffs(runs, noise_seeds=4)
print(f"measured in {time.perf_counter() - t0:.1f} s")

report_dir = workdir / "report"
command = (
    "snnjax tradeoffs yinyang_multispike yinyang_ttfs --out report --n-samples 500 --noise-seeds 4"
)
write_tradeoff_report(measurements, report_dir, command=command)
for path in sorted(report_dir.iterdir()):
    print(" ", path.name)

# %% [markdown]
# The directory holds `report.md` (one table per measure, runs as columns), every table as
# a CSV (`table_<name>.csv`: first column the row label, one column per run) and every plot
# as a PNG with the CSV of its data. In code, the measurements hold the same tables as
# nested dicts, `tables[table][row][run]`, and the curves behind the plots:

# %%
tables = measurements.tables
print(sorted(tables))
print(tables["performance"]["accuracy"])
jitter = measurements.noise["input_jitter"]["yinyang_ttfs"]  # a RobustnessResult
print(
    "input jitter (s):", jitter.levels, "accuracy per level and noise seed:", jitter.per_seed.shape
)
print(
    "accuracy at",
    len(measurements.deadlines),
    "deadlines:",
    {name: round(float(acc[-1]), 3) for name, acc in measurements.deadline_accuracy.items()},
)

# %% [markdown]
# Below, `report.md` section by section. (Its "Plots" section links the PNGs by file
# name; here we display the images themselves.)


# %%
def sections(markdown: str) -> dict[str, str]:
    """``{title: text}`` of the ``## `` sections of a Markdown document."""
    out, title = {}, "header"
    for line in markdown.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            out[title] = ""
        else:
            out[title] = out.get(title, "") + line + "\n"
    return out


report = sections((report_dir / "report.md").read_text())
print(list(report))


def show(title: str) -> None:
    display(Markdown(f"**{title}**\n\n" + report[title]))


def show_plot(name: str) -> None:
    display(Image(filename=report_dir / f"plot_{name}.png"))


display(Markdown(report["header"]))

# %% [markdown]
# ## Performance
#
# The accuracy of the checkpoint on the evaluated samples, with the readout that the run
# was trained for. A sample whose output neurons are all silent has no prediction: it
# counts as wrong and is reported in the *silent output fraction* (it is never read as
# class 0). *Label neuron silent* is the share of samples in which the correct output
# neuron fired no spike at all — for a TTFS network that is a sample it cannot get right.
# The accuracy here is over the 500 evaluated samples, so it differs from the
# `best_test_accuracy` of `results.json` (all 1000 test samples; repeated in the
# convergence table).

# %%
show("Performance")

# %% [markdown]
# ## Sparsity and energy
#
# *Spikes per sample*, per layer and in total, is the paper's sparsity measure. Spikes
# cost energy on neuromorphic hardware mainly through the synaptic events they cause, so
# the report also counts **SynOps**: every spike times its fan-out (the number of
# synapses it reaches in the next layer; for a convolution, the kernel positions it
# touches, borders included). "SynOps into hidden1" are the input spikes times 120.
#
# *Silent neuron fraction*: neurons that fired on no evaluated sample at all (dead
# neurons, wasted capacity). *Dropped spikes* are spikes a neuron would have fired after
# its buffer was full: for a multi-spike network a nonzero value means `max_spikes` is too
# small; for a TTFS network (one slot) it counts the later threshold crossings that TTFS
# ignores by design.

# %%
show("Sparsity / energy")
show_plot("accuracy_vs_spikes")

# %% [markdown]
# Where the spikes are: the report also draws the first test sample through each network.
# The TTFS hidden layer fires at most once per neuron, while the multi-spike layer fires
# bursts; the TTFS output answers with its first spike.

# %%
show_plot("raster_yinyang_multispike")
show_plot("raster_yinyang_ttfs")

# %% [markdown]
# ## Latency
#
# When can the network's answer be read? The **decision time** of a sample is the
# earliest time after which the prediction made from the output spikes so far equals the
# final prediction. For TTFS that is the first output spike. For a spike-count readout it
# is when the running counts settle on the final winner — which can be long before the
# end of the window, but never before the winner's lead is established. The table gives
# the median, 90th percentile and mean over the samples that have a decision, the median
# over correctly classified samples, and the *undecided fraction* (no output spike).
#
# **Accuracy versus deadline** asks the converse: if every output spike after a deadline is
# discarded, how accurate is the network? A TTFS network reaches its final accuracy as
# soon as its outputs have fired; a count network needs its count to build up.

# %%
show("Latency")
show_plot("decision_times")
show_plot("accuracy_vs_deadline")

# %% [markdown]
# The full deadline table has one row per deadline (41 from 0 to the longest `t_max`);
# it is in `table_accuracy_vs_deadline.csv`. Its last rows:

# %%
print("\n".join((report_dir / "table_accuracy_vs_deadline.csv").read_text().splitlines()[-4:]))

# %% [markdown]
# ## Robustness
#
# Accuracy under three kinds of noise, each level averaged over the noise seeds (all
# seeds evaluated in one compiled `vmap` call; see the
# [robustness tutorial](../robustness/)):
#
# - **input jitter**: Gaussian noise of standard deviation `sigma` (ms) on every input
#   spike time;
# - **input deletion**: every input spike removed with probability `p`;
# - **weight noise**: every weight multiplied by `1 + sigma eps`.
#
# Every run sees the same noise draws (the same key), so the curves differ only by the
# networks. Level 0 is the clean accuracy. The standard deviation over seeds follows each
# table; an "input overflow" row would flag perturbed samples that exceeded a layer's
# compiled bound on input events (their accuracy would not be trustworthy).

# %%
show("Robustness: input jitter")
show_plot("accuracy_vs_input_jitter")

# %%
show("Robustness: input deletion")
show_plot("accuracy_vs_input_deletion")

# %%
show("Robustness: weight noise")
show_plot("accuracy_vs_weight_noise")

# %% [markdown]
# ## Convergence
#
# How fast did training get there? From each run's `metrics.jsonl`: the first epoch whose
# validation accuracy reaches 90 % and 95 % of the run's own final validation accuracy,
# and the first epoch reaching a *common* target (95 % of the lowest best validation
# accuracy among the runs, so that a run with a low accuracy does not look fast by reaching
# its own low bar early). With 5 epochs this is coarse; the paper's toy
# convergence map ([`snnjax.analysis.convergence_map`][snnjax.analysis.convergence_map])
# measures the same claim on a controlled problem.

# %%
show("Convergence")
show_plot("training_curves")

# %% [markdown]
# ## Reading it
#
# Put the tables together before concluding: a network can be sparser only because it is
# less accurate, faster only because it decides on fewer samples, more "robust" only
# because it starts from a lower accuracy. Compare runs of equal training length, on the
# same samples, over several training seeds: runs that differ only in their seed are
# grouped by the report into a mean ± std table. The full-length comparison of these two
# configurations, and of the MNIST ones, is on the [Results](../../results/) page.
