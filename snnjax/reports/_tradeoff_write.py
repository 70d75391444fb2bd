"""The writing step of the trade-off report: measurements -> CSV tables, plots, report.md.

Helpers of :func:`snnjax.reports.tradeoffs.write_tradeoff_report`; they read a
:class:`snnjax.reports.tradeoffs.TradeoffMeasurements` and measure nothing.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from snnjax.reports._format import markdown_table, plus_minus, write_csv_table

if TYPE_CHECKING:
    from snnjax.reports.tradeoffs import TradeoffMeasurements

# First column of a table's CSV (default "measure").
_CSV_FIRST = {
    "accuracy_vs_deadline": "deadline_ms",
    "robustness_input_jitter": "sigma_ms",
    "robustness_input_deletion": "p",
    "robustness_weight_noise": "relative_sigma",
}

# The per-run sections of report.md: (title, table, first column, note).
_SECTIONS = (
    (
        "Performance",
        "performance",
        "measure",
        "Accuracy of the checkpoint on the split (silent outputs count as wrong); the "
        "readout follows the loss (count loss: most spikes; ttfs loss: first spike).",
    ),
    (
        "Sparsity / energy",
        "sparsity",
        "measure",
        "Per sample, averaged over the split. SynOps = each spike x its fan-out (the "
        "spikes arriving at a layer). Silent neuron = no spike on any evaluated sample. "
        "Dropped spikes: spikes after a neuron's buffer is full (not counted above); with "
        "one slot per neuron (TTFS) that is by design.",
    ),
    (
        "Latency",
        "latency",
        "measure",
        "Decision time: earliest time after which the prediction from the outputs "
        "truncated at that time equals the final prediction (TTFS: the first output "
        "spike); over samples with a decision.",
    ),
    (
        "Accuracy vs deadline",
        "accuracy_vs_deadline",
        "deadline (ms)",
        "Accuracy when every output spike after the deadline is removed.",
    ),
    (
        "Robustness: input jitter",
        "robustness_input_jitter",
        "sigma (ms)",
        "Mean accuracy over the noise seeds; Gaussian jitter of the input spike times "
        "(std over seeds in the CSV / table below).",
    ),
    (
        "Robustness: input deletion",
        "robustness_input_deletion",
        "p",
        "Mean accuracy over the noise seeds; each input spike deleted with probability p.",
    ),
    (
        "Robustness: weight noise",
        "robustness_weight_noise",
        "relative sigma",
        "Mean accuracy over the noise seeds; every weight w -> w (1 + sigma eps).",
    ),
    (
        "Convergence",
        "convergence",
        "measure",
        "From metrics.jsonl: first epoch whose validation accuracy reaches 90 % / 95 % of "
        "the run's own final (last-epoch) validation accuracy, and first epoch reaching "
        "the common target (95 % of the lowest best validation accuracy among the runs).",
    ),
)


# --------------------------------------------------------------------------- tables


def write_tables(m: TradeoffMeasurements, out: Path) -> None:
    """``table_<name>.csv`` per table (robustness: a ``<run> std`` column after each run),
    plus ``table_seeds.csv`` and ``table_seed_groups.csv`` when runs form seed groups."""
    names = m.names
    for tname, table in m.tables.items():
        if tname.endswith("_std") or tname in ("seeds", "seeds_n"):
            continue
        first = _CSV_FIRST.get(tname, "measure")
        if tname.startswith("robustness"):
            std = m.tables[f"{tname}_std"]
            table = {
                row: {**vals, **{f"{n} std": v for n, v in std.get(row, {}).items()}}
                for row, vals in table.items()
            }
            columns = [c for n in names for c in (n, f"{n} std")]
        else:
            columns = names
        write_csv_table(out / f"table_{tname}.csv", table, columns, first)
    if m.with_seeds:
        _write_seed_tables(m, out)


def _write_seed_tables(m: TradeoffMeasurements, out: Path) -> None:
    t = m.tables
    merged = {
        row: {
            **{f"{g} mean": v for g, v in vals.items()},
            **{f"{g} std": v for g, v in t["seeds_std"][row].items()},
            **{f"{g} n": v for g, v in t["seeds_n"][row].items()},
        }
        for row, vals in t["seeds"].items()
    }
    columns = [f"{g} {c}" for g in m.groups for c in ("mean", "std", "n")]
    write_csv_table(out / "table_seeds.csv", merged, columns, "measure")
    write_csv_table(
        out / "table_seed_groups.csv",
        {"runs": {g: " ".join(ms) for g, ms in m.groups.items()}},
        list(m.groups),
        "group",
    )


# ---------------------------------------------------------------------------- plots


def write_plots(m: TradeoffMeasurements, out: Path) -> dict[str, Path]:
    """Every plot of the report (PNG + CSV); ``{plot name: PNG path}`` in report order."""
    from snnjax.reports import plot

    plots = _scatter_plots(m, out)
    plots["accuracy_vs_deadline"] = plot.plot_accuracy_vs_deadline(
        m.deadlines, m.deadline_accuracy, out / "plot_accuracy_vs_deadline.png"
    ).png
    plots["decision_times"] = plot.plot_decision_times(
        {n: m.evaluations[n].decision_time for n in m.names}, out / "plot_decision_times.png"
    ).png
    for noise in m.noises:
        plots[f"accuracy_vs_{noise.kind}"] = plot.plot_accuracy_vs_noise(
            m.noise[noise.kind],
            out / f"plot_accuracy_vs_{noise.kind}.png",
            xlabel=noise.xlabel,
            level_scale=noise.scale,
        ).png
    plots["training_curves"] = plot.plot_training_curves(
        {r.name: r.metrics for r in m.runs}, out / "plot_training_curves.png"
    ).png
    plots.update(_raster_plots(m, out))
    if m.with_seeds:
        plots.update(_seed_plots(m, out))
    return plots


def _scatter_plots(m: TradeoffMeasurements, out: Path) -> dict[str, Path]:
    """Accuracy versus spikes and versus SynOps, one point per run, coloured by seed group
    (or, without seed groups, by readout, with each point labelled by its run)."""
    from snnjax.readouts import get_readout
    from snnjax.reports import plot

    group_of = {n: g for g, members in m.groups.items() for n in members}
    colours = [group_of[r.name] if m.with_seeds else get_readout(r.readout).label for r in m.runs]
    acc = [m.tables["performance"]["accuracy"][n] for n in m.names]
    plots = {}
    for key, row, xlabel in (
        ("spikes", "spikes per sample: total", "spikes per sample (all spiking layers)"),
        ("synops", "SynOps per sample: total", "synaptic operations per sample"),
    ):
        plots[f"accuracy_vs_{key}"] = plot.plot_accuracy_vs_spikes(
            [m.tables["sparsity"][row][n] for n in m.names],
            acc,
            out / f"plot_accuracy_vs_{key}.png",
            labels=m.names,
            groups=colours,
            xlabel=xlabel,
            annotate=not m.with_seeds,
        ).png
    return plots


def _raster_plots(m: TradeoffMeasurements, out: Path) -> dict[str, Path]:
    """The first sample of the split through each network."""
    from snnjax.nn import spiking_layer_names
    from snnjax.reports import plot

    return {
        f"raster_{r.name}": plot.plot_network_raster(
            r.model,
            {"params": r.params},
            r.input_times[0],
            out / f"plot_raster_{r.name}.png",
            title=f"{r.name}: {r.split} sample 0 (label {int(r.labels[0])})",
            t_max=r.config.t_max,
            names=["input", *spiking_layer_names(r.model)],
        ).png
        for r in m.runs
    }


def _seed_plots(m: TradeoffMeasurements, out: Path) -> dict[str, Path]:
    """Robustness and validation curves with their spread over training seeds."""
    from snnjax.reports import plot

    plots = {}
    for noise in m.noises:
        plots[f"seeds_accuracy_vs_{noise.kind}"] = plot.plot_accuracy_vs_noise(
            m.group_curves[noise.kind],
            out / f"plot_seeds_accuracy_vs_{noise.kind}.png",
            xlabel=noise.xlabel,
            level_scale=noise.scale,
            title="mean ± std over training seeds",
        ).png
    if m.group_curves["validation"]:
        plots["seeds_validation_curves"] = plot.plot_accuracy_vs_noise(
            m.group_curves["validation"],
            out / "plot_seeds_validation_curves.png",
            xlabel="epoch",
            title="validation accuracy, mean ± std over training seeds",
        ).png
    return plots


# ------------------------------------------------------------------------ report.md


def report_markdown(
    m: TradeoffMeasurements, plots: dict[str, Path], command: str, seconds: float
) -> str:
    """The text of ``report.md``: header, one section per table, seeds, plots."""
    md = _header(m, command, seconds)
    for title, tname, first, note in _SECTIONS:
        md += [
            f"## {title}",
            "",
            note,
            "",
            markdown_table(m.tables[tname], m.names, first),
            "",
            f"CSV: `table_{tname}.csv`",
            "",
        ]
        if tname.startswith("robustness"):
            md += [
                "Std over seeds:",
                "",
                markdown_table(m.tables[f"{tname}_std"], m.names, first),
                "",
            ]
    if m.with_seeds:
        md += _seeds_section(m)
    md += ["## Plots", ""]
    for name, png in plots.items():
        md += [
            f"### {name.replace('_', ' ')}",
            "",
            f"![{name}]({png.name}) (data: `{png.with_suffix('.csv').name}`)",
            "",
        ]
    return "\n".join(md)


def _header(m: TradeoffMeasurements, command: str, seconds: float) -> list[str]:
    n_eval = m.tables["performance"]["samples evaluated"]
    return [
        f"# Trade-off report: {', '.join(m.names)}",
        "",
        f"Command: `{command}`",
        "",
        f"Data: `{m.split}` split, samples evaluated per run: "
        + ", ".join(f"{n} {n_eval[n]}" for n in m.names)
        + f"; checkpoint: `{m.checkpoint}`.",
        "",
        _robustness_scope(m),
        "",
        "Runs: " + ", ".join(f"`{r.name}` = `{r.run_dir}`" for r in m.runs),
        "",
        f"Wall time: {seconds:.1f} s.",
        "",
    ]


def _robustness_scope(m: TradeoffMeasurements) -> str:
    """What the robustness sweeps measured, and how precise their numbers are."""
    counts = sorted(set(m.robustness_samples.values()))
    n = counts[0] if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    n_small = counts[0]
    # Binomial standard error of an accuracy near 0.9 on the swept samples: the uncertainty
    # of the subset itself (the std over noise seeds does not include it).
    se = 100 * math.sqrt(0.9 * 0.1 / n_small) if n_small else math.nan
    return (
        f"Robustness sweeps: the first {n} samples of the split, {m.noise_seeds} noise seeds "
        f"per level (noise key {m.key}, the same draws for every run); a robustness cell is "
        "the mean over the noise seeds, its std (the `_std` tables) the spread over them. "
        f"The swept subset adds a sampling error of about ±{se:.1f} points (binomial "
        f"standard error at 90 % accuracy on {n_small} samples), common to all levels and "
        "seeds of a run: compare levels within a run more finely than runs with each other. "
        "`snnjax tradeoffs --full` sweeps every sample with 20 seeds."
    )


def _seeds_section(m: TradeoffMeasurements) -> list[str]:
    t = m.tables
    pm = {
        row: {
            g: plus_minus(mean, t["seeds_std"][row][g], t["seeds_n"][row][g])
            for g, mean in vals.items()
        }
        for row, vals in t["seeds"].items()
    }
    return [
        "## Across training seeds",
        "",
        "Runs whose configs differ only in the seed are one group: "
        + "; ".join(
            f"**{g}** = " + ", ".join(f"`{n}`" for n in members) for g, members in m.groups.items()
        )
        + ".",
        "",
        "Mean ± sample std over the group's runs (n = runs with a value). "
        "Robustness rows: accuracy at that noise level (jitter in ms), each run's "
        "value itself a mean over the noise seeds.",
        "",
        markdown_table(pm, list(m.groups), "measure"),
        "",
        "CSV: `table_seeds.csv`",
        "",
    ]
