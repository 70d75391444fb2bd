"""Trade-off report: trained runs compared side by side (``snnjax tradeoffs``, SPEC §7).

The report is three steps, each usable on its own:

1. **load** (:func:`load_runs`, :func:`load_trained_run`): every run directory written by
   :func:`snnjax.train.train` (config, checkpoint, ``metrics.jsonl``), its data split
   re-encoded exactly as in training (:func:`snnjax.train.prepare_data`);
2. **measure** (:func:`measure_tradeoffs`, no file written): a
   :class:`TradeoffMeasurements` with the tables and curves, measured with
   :mod:`snnjax.analysis`:

   * performance: accuracy on the split (equal to ``snnjax eval`` on the same checkpoint);
   * sparsity / energy: spikes and synaptic operations per sample per layer, silent neurons;
   * latency: decision time (median, p90) with the run's readout (:mod:`snnjax.readouts`:
     ``count`` loss -> spike count, ``ttfs`` loss -> first spike), accuracy versus a
     decision deadline;
   * robustness: accuracy under input jitter, input deletion and weight noise (all noise
     seeds evaluated in one compiled call per level set: ``jax.vmap`` over the seeds on
     accelerators, ``lax.map`` on CPU, see :func:`snnjax.analysis.robustness_sweep`);
   * convergence: epochs to reach 90 % / 95 % of the run's own final validation accuracy,
     and epochs to reach a common target (95 % of the lowest best validation accuracy of
     all runs compared), which compares runs of different final accuracy directly;
   * across training seeds: runs that differ only in their seed (:func:`seed_groups`) are
     summarised as mean ± std over the group (the paper's claims need several seeds);

3. **write** (:func:`write_tradeoff_report`) into ``out_dir``: ``report.md`` (one table per
   measure, runs as columns), one CSV per table (``table_<name>.csv``, first column the row
   label, then one column per run) and one PNG + CSV per plot (``plot_<name>.png``/``.csv``,
   from :mod:`snnjax.reports.plot`).

:func:`tradeoff_report` does all three (``snnjax tradeoffs``).

Example:
  >>> from snnjax.reports.tradeoffs import tradeoff_report
  >>> tables = tradeoff_report(["runs/yy_count", "runs/yy_ttfs"], "runs/report")  # doctest: +SKIP
  >>> tables["performance"]["accuracy"]  # doctest: +SKIP
  {'yy_count': 0.928, 'yy_ttfs': 0.959}

  The measurements alone, in a notebook (nothing is written):

  >>> from snnjax.reports.tradeoffs import load_runs, measure_tradeoffs
  >>> runs = load_runs(["runs/yy_count", "runs/yy_ttfs"], n_samples=500)  # doctest: +SKIP
  >>> m = measure_tradeoffs(runs, noise_seeds=4)  # doctest: +SKIP
  >>> m.tables["latency"]["decision time median (ms)"]  # doctest: +SKIP
  {'yy_count': 61.2, 'yy_ttfs': 38.5}
  >>> m.noise["input_jitter"]["yy_ttfs"].mean  # RobustnessResult      # doctest: +SKIP
  >>> m.deadline_accuracy["yy_count"]  # [41] accuracy at m.deadlines (s)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from snnjax._command import invoked_command
from snnjax.reports import _tradeoff_measure as _measure
from snnjax.reports import _tradeoff_write as _write
from snnjax.reports._format import Table, cell
from snnjax.reports._tradeoff_measure import Curve, Noise

__all__ = [
    "DEFAULT_NOISE_SEEDS",
    "DEFAULT_ROBUSTNESS_SAMPLES",
    "DELETION_LEVELS",
    "FULL_NOISE_SEEDS",
    "JITTER_LEVELS_S",
    "WEIGHT_NOISE_LEVELS",
    "LoadedRun",
    "TradeoffMeasurements",
    "load_runs",
    "load_trained_run",
    "measure_tradeoffs",
    "seed_groups",
    "tradeoff_report",
    "write_tradeoff_report",
]

JITTER_LEVELS_S = (0.0, 0.001, 0.002, 0.005, 0.010, 0.020)
"""Input jitter sigmas (s): 0, 1, 2, 5, 10, 20 ms."""
DELETION_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Input spike deletion probabilities."""
WEIGHT_NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
"""Relative sigmas of multiplicative Gaussian weight noise."""
N_DEADLINES = 41

#: The default robustness sweep of a report: noise seeds per level, and the first samples of
#: the split it perturbs (accuracy, sparsity and latency use every sample). Sized so that
#: one MNIST run reports in about a minute on a 2-core CPU; the report states the resulting
#: standard errors. ``FULL_SWEEP`` is the paper-scale sweep (``snnjax tradeoffs --full``).
DEFAULT_NOISE_SEEDS = 5
DEFAULT_ROBUSTNESS_SAMPLES = 2000
FULL_NOISE_SEEDS = 20

_NOISES = (
    Noise("input_jitter", JITTER_LEVELS_S, "input jitter sigma (ms)", 1e3),
    Noise("input_deletion", DELETION_LEVELS, "input deletion probability", 1.0),
    Noise("weight_noise", WEIGHT_NOISE_LEVELS, "relative weight noise sigma", 1.0),
)


def _silent(_msg: str) -> None:
    pass


# --------------------------------------------------------------------------- loading


@dataclasses.dataclass
class LoadedRun:
    """A trained run, ready to evaluate.

    Attributes:
      name: display name (the directory name, made unique).
      run_dir: the directory.
      config: its :class:`snnjax.configs.ExperimentConfig`.
      model: the network (the same object ``snnjax eval`` uses).
      params: the checkpoint's parameters (``model.apply({"params": params}, x)``).
      epoch: the checkpoint's epoch.
      readout: the readout's name, the config's ``loss`` (:mod:`snnjax.readouts`).
      input_times, labels: the evaluated split (first ``n_samples``).
      metrics: the rows of ``metrics.jsonl``.
      results: ``results.json`` (empty if the run has not finished).
      split: the evaluated split (``"test"``, ``"validation"`` or ``"train"``).
      checkpoint: the restored checkpoint (``"best"`` or ``"last"``).
    """

    name: str
    run_dir: Path
    config: Any
    model: Any
    params: Any
    epoch: int
    readout: str
    input_times: np.ndarray
    labels: np.ndarray
    metrics: list[dict[str, Any]]
    results: dict[str, Any]
    split: str = "test"
    checkpoint: str = "best"


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.exists():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir} is not a directory")
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a snnjax run directory (no config.json)")
    if not (run_dir / "checkpoints").is_dir():
        raise FileNotFoundError(f"{run_dir} has no checkpoints/ (was it trained?)")


def load_trained_run(
    run_dir: str | os.PathLike[str],
    *,
    data_dir=None,
    split: str = "test",
    n_samples: int | None = None,
    checkpoint: str = "best",
    name: str | None = None,
) -> LoadedRun:
    """Load a run's config, checkpoint parameters and data split (encoded as in training).

    Raises:
      FileNotFoundError: not a run directory, no checkpoint, or image data missing.
      ValueError: bad ``checkpoint``, ``split`` or ``n_samples``; an invalid ``config.json``.
    """
    from snnjax.configs import ConfigError
    from snnjax.readouts import get_readout
    from snnjax.train import RunDir, RunFileError, load_run, restore_run
    from snnjax.train.bounds import recorded_bounds
    from snnjax.train.provenance import load_run_data

    if checkpoint not in ("last", "best"):
        raise ValueError(f"checkpoint must be 'last' or 'best', got {checkpoint!r}")
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be 'train', 'validation' or 'test', got {split!r}")
    if n_samples is not None and n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    run = Path(run_dir)
    _check_run_dir(run)
    try:
        config, run_info = load_run(run)
    except (RunFileError, TypeError, KeyError, ConfigError) as err:
        raise ValueError(f"{run}/config.json is not a valid snnjax config: {err}") from err
    data = load_run_data(run, config, run_info, data_dir, splits=(split,))
    ds = getattr(data, split)
    if len(ds) == 0:
        raise ValueError(f"the {split!r} split of {run} is empty")
    # Noise changes how many spikes a layer emits: lift the later layers' input-event
    # bounds (a speed setting of training), keep the first layer's (exact, from the data).
    bounds = recorded_bounds(run_info, config.n_spiking_layers)
    if bounds is not None:
        run_info = {**run_info, "input_event_bounds": [bounds[0]] + [None] * (len(bounds) - 1)}
    restored = restore_run(run, config, run_info, data, checkpoint)
    n = len(ds) if n_samples is None else min(int(n_samples), len(ds))
    files = RunDir(run)
    return LoadedRun(
        name=name or run.resolve().name,
        run_dir=run,
        config=config,
        model=restored.model,
        params=restored.params,
        epoch=restored.epoch,
        readout=get_readout(config.loss).name,
        input_times=np.asarray(ds.times[:n]),
        labels=np.asarray(ds.labels[:n]),
        metrics=files.read_metrics(),
        results=files.read_results(missing_ok=True),
        split=split,
        checkpoint=checkpoint,
    )


def load_runs(
    run_dirs: Sequence[str | os.PathLike[str]],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "test",
    n_samples: int | None = None,
    checkpoint: str = "best",
) -> list[LoadedRun]:
    """Load several runs for a comparison (:func:`load_trained_run` each), named after their
    directories (made unique: ``run``, ``run-2``, ...); every directory is checked first.

    Raises:
      FileNotFoundError: a run directory is missing / not a run / has no checkpoint.
      ValueError: no run given, bad options, an invalid run.
    """
    if not run_dirs:
        raise ValueError("give at least one run directory")
    paths = [Path(p) for p in run_dirs]
    for p in paths:
        _check_run_dir(p)
    return [
        load_trained_run(
            p, data_dir=data_dir, split=split, n_samples=n_samples, checkpoint=checkpoint, name=name
        )
        for p, name in zip(paths, _unique_names(paths), strict=True)
    ]


def _unique_names(paths: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for p in paths:
        base = p.resolve().name
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


# ------------------------------------------------------------- across training seeds


def seed_groups(configs: Sequence[Any], names: Sequence[str]) -> dict[str, list[str]]:
    """Group runs whose configs differ only in the seed (the same experiment, trained again).

    Args:
      configs: each run's :class:`snnjax.configs.ExperimentConfig`.
      names: the runs' display names (same order).

    Returns:
      ``{group_label: [run names]}`` in first-seen order. The label is the config name, plus
      ``key=value`` for the fields that tell apart groups sharing a config name (e.g.
      ``yinyang_ttfs (thetas=0.4,0.3)``).
    """
    from snnjax.configs import config_to_dict

    keyed: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for cfg, name in zip(configs, names, strict=True):
        d = config_to_dict(cfg)
        d.pop("seed", None)
        key = json.dumps(d, sort_keys=True, default=str)
        keyed.setdefault(key, (d, []))[1].append(name)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for d, _ in keyed.values():
        by_name.setdefault(d["name"], []).append(d)
    out: dict[str, list[str]] = {}
    for d, members in keyed.values():
        label = d["name"]
        siblings = by_name[d["name"]]
        if len(siblings) > 1:
            differ = sorted(
                k for k in d if k != "description" and any(o.get(k) != d[k] for o in siblings)
            )

            def show(v):
                if isinstance(v, (list, tuple)):
                    return ",".join(show(x) for x in v)
                return cell(v) if isinstance(v, float) else str(v)

            label += " (" + ", ".join(f"{k}={show(d[k])}" for k in differ) + ")"
        out[label] = members
    return out


# ------------------------------------------------------------------------- measuring


@dataclasses.dataclass(frozen=True)
class TradeoffMeasurements:
    """Everything a trade-off report shows, measured (:func:`measure_tradeoffs`).

    Attributes:
      runs: the compared runs (:class:`LoadedRun`), in column order.
      tables: ``{table: {row_label: {run_name: value}}}``, the tables of the report (see
        :func:`tradeoff_report`'s return value).
      evaluations: ``{run_name: TradeoffEvaluation}`` (per-sample predictions, output trains,
        decision times, spikes; :func:`snnjax.analysis.evaluate_tradeoffs`).
      noise: ``{kind: {run_name: RobustnessResult}}`` for ``input_jitter``,
        ``input_deletion`` and ``weight_noise`` (levels :data:`JITTER_LEVELS_S`, ...); the
        std over noise seeds is exactly 0 where all seeds agree.
      deadlines: ``[D]`` decision deadlines (s), shared by all runs.
      deadline_accuracy: ``{run_name: [D] accuracy}`` at :attr:`deadlines`.
      groups: ``{group_label: [run names]}`` (:func:`seed_groups`).
      group_curves: with seed groups, ``{kind: {group: (levels, mean, std)}}`` per noise and
        ``"validation"``: ``{group: (epochs, mean, std)}``, over the group's runs; else ``{}``.
      common_target: the common convergence target (validation accuracy), ``None`` when no
        run has a validation accuracy.
      noise_seeds: noise seeds per robustness level.
      robustness_samples: ``{run_name: samples}`` the robustness sweeps perturbed (the first
        ones of the split).
      key: seed of the noise draws.
      noises: the perturbations (kind, levels, axis label, scale of the row labels).
      seconds: wall time of loading (as given) plus measuring (s).
    """

    runs: list[LoadedRun]
    tables: dict[str, Table]
    evaluations: dict[str, Any]
    noise: dict[str, dict[str, Any]]
    deadlines: np.ndarray
    deadline_accuracy: dict[str, np.ndarray]
    groups: dict[str, list[str]]
    group_curves: dict[str, dict[str, Curve]]
    common_target: float | None
    noise_seeds: int
    robustness_samples: dict[str, int]
    key: int
    noises: tuple[Noise, ...]
    seconds: float

    @property
    def names(self) -> list[str]:
        """The runs' names (the tables' columns)."""
        return [r.name for r in self.runs]

    @property
    def with_seeds(self) -> bool:
        """Some runs differ only in their seed (the report adds mean ± std over them)."""
        return any(len(members) > 1 for members in self.groups.values())

    @property
    def split(self) -> str:
        """The evaluated split."""
        return self.runs[0].split

    @property
    def checkpoint(self) -> str:
        """The restored checkpoint (``"best"`` or ``"last"``)."""
        return self.runs[0].checkpoint


def measure_tradeoffs(
    runs: Sequence[LoadedRun],
    *,
    noise_seeds: int = DEFAULT_NOISE_SEEDS,
    robustness_samples: int | None = DEFAULT_ROBUSTNESS_SAMPLES,
    key: int = 0,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
    seconds: float = 0.0,
) -> TradeoffMeasurements:
    """Measure loaded runs side by side; writes no file (for notebooks and scripts).

    Args:
      runs: from :func:`load_runs` (unique names, the same split and checkpoint).
      noise_seeds: noise seeds per robustness level (evaluated together in one compiled call).
      robustness_samples: the robustness sweeps perturb the first ``robustness_samples`` of
        each run's samples (``None``: all); accuracy, sparsity and latency use all of them.
      key: seed of the noise draws (the same for every run: common random numbers).
      log: ``print``-like progress callback (default: silent).
      progress: progress bars over the evaluation and each robustness sweep.
      seconds: time already spent (e.g. loading), added to :attr:`TradeoffMeasurements.seconds`.

    Returns:
      :class:`TradeoffMeasurements`.

    Raises:
      ValueError: no run, ``noise_seeds < 1``, ``robustness_samples < 1``, runs with equal
        names.
    """
    from snnjax import analysis

    log = log or _silent
    if not runs:
        raise ValueError("give at least one run")
    if noise_seeds < 1:
        raise ValueError(f"noise_seeds must be >= 1, got {noise_seeds}")
    if robustness_samples is not None and robustness_samples < 1:
        raise ValueError(
            f"robustness_samples must be >= 1 (or None: all), got {robustness_samples}"
        )
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise ValueError(f"runs need unique names, got {names}")
    t_start = time.perf_counter()
    tables = _measure.empty_tables()
    evaluations: dict[str, Any] = {}
    noise: dict[str, dict[str, Any]] = {n.kind: {} for n in _NOISES}
    swept: dict[str, int] = {}
    for r in runs:
        t0 = time.perf_counter()
        log(f"{r.name}: evaluating {len(r.labels)} {r.split} samples")
        ev = analysis.evaluate_tradeoffs(
            r.model,
            {"params": r.params},
            r.input_times,
            r.labels,
            r.readout,
            batch_size=r.config.eval_batch_size,
        )
        swept[r.name] = len(r.labels[:robustness_samples])
        log(f"{r.name}: robustness sweeps on {swept[r.name]} samples x {noise_seeds} noise seeds")
        sweeps = _measure.robustness_sweeps(
            r, _NOISES, noise_seeds, key, log, n_samples=robustness_samples, progress=progress
        )
        evaluations[r.name] = ev
        for kind, res in sweeps.items():
            noise[kind][r.name] = res
        _measure.add_column(tables, r.name, _measure.run_rows(r, ev, sweeps, _NOISES))
        log(
            f"{r.name}: measured on {len(r.labels)} {r.split} samples "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    target, common_row = _measure.common_target_row(tables, runs)
    deadlines, curves = _measure.deadline_curves(tables, runs, evaluations, N_DEADLINES)
    groups = seed_groups([r.config for r in runs], names)
    group_curves = {}
    if any(len(members) > 1 for members in groups.values()):
        group_curves = _measure.seed_group_tables(tables, runs, groups, noise, _NOISES, common_row)
    return TradeoffMeasurements(
        runs=list(runs),
        tables=tables,
        evaluations=evaluations,
        noise=noise,
        deadlines=deadlines,
        deadline_accuracy=curves,
        groups=groups,
        group_curves=group_curves,
        common_target=target,
        noise_seeds=int(noise_seeds),
        robustness_samples=swept,
        key=key,
        noises=_NOISES,
        seconds=seconds + time.perf_counter() - t_start,
    )


# --------------------------------------------------------------------------- writing


def write_tradeoff_report(
    measurements: TradeoffMeasurements,
    out_dir: str | os.PathLike[str],
    *,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write the tables (CSV), the plots (PNG + CSV) and ``report.md`` into ``out_dir``.

    Args:
      measurements: from :func:`measure_tradeoffs`.
      out_dir: the report's directory (created).
      command: the command line recorded in the report (default: ``sys.argv``).
      log: ``print``-like progress callback (default: silent).

    Returns:
      The path of ``report.md``.
    """
    log = log or _silent
    t_start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log(f"writing the plots, tables and the report into {out}")
    plots = _write.write_plots(measurements, out)
    _write.write_tables(measurements, out)
    seconds = measurements.seconds + time.perf_counter() - t_start
    text = _write.report_markdown(
        measurements, plots, invoked_command() if command is None else command, seconds
    )
    path = out / "report.md"
    path.write_text(text)
    log(f"report written ({measurements.seconds + time.perf_counter() - t_start:.1f} s)")
    return path


def tradeoff_report(
    run_dirs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    split: str = "test",
    n_samples: int | None = None,
    noise_seeds: int = DEFAULT_NOISE_SEEDS,
    robustness_samples: int | None = DEFAULT_ROBUSTNESS_SAMPLES,
    checkpoint: str = "best",
    command: str | None = None,
    key: int = 0,
    log=None,
    progress: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Compare trained runs side by side and write a report into ``out_dir``.

    :func:`load_runs`, then :func:`measure_tradeoffs`, then :func:`write_tradeoff_report`.

    Args:
      run_dirs: run directories written by :func:`snnjax.train.train` (``snnjax train``).
      out_dir: where ``report.md``, the table CSVs and the plots (PNG + CSV) go.
      data_dir: directory with the IDX files (image datasets); default: the directory each
        run recorded (:mod:`snnjax.train.provenance`).
      split: ``"test"`` (default), ``"validation"`` or ``"train"``.
      n_samples: evaluate the first ``n_samples`` of the split only (default: all).
      noise_seeds: noise seeds per robustness level (evaluated together in one compiled call;
        default :data:`DEFAULT_NOISE_SEEDS`).
      robustness_samples: the sweeps perturb the first ``robustness_samples`` samples
        (default :data:`DEFAULT_ROBUSTNESS_SAMPLES`; ``None``: all).
      checkpoint: ``"best"`` (validation-selected, default) or ``"last"``.
      command: the command line recorded in the report (default: ``sys.argv``).
      key: seed of the noise draws (the same for every run: common random numbers).
      log: ``print``-like progress callback (default: silent).
      progress: progress bars over the robustness sweeps.

    Returns:
      ``{table_name: {row_label: {run_name: value}}}`` — the tables of the report:
      ``performance``, ``sparsity``, ``latency``, ``accuracy_vs_deadline``,
      ``robustness_input_jitter``, ``robustness_input_deletion``,
      ``robustness_weight_noise`` (mean accuracy; ``<run> std`` columns in the CSV and
      ``*_std`` tables) and ``convergence``; when some runs differ only in their seed
      (:func:`seed_groups`) also ``seeds`` / ``seeds_std`` / ``seeds_n``: mean, std and
      count over each group's runs (columns = group labels) of accuracy, spikes, SynOps,
      decision time, robustness per level and convergence.

    Raises:
      FileNotFoundError: a run directory is missing / not a run / has no checkpoint.
      ValueError: no run given, bad options, an invalid run.
    """
    if noise_seeds < 1:
        raise ValueError(f"noise_seeds must be >= 1, got {noise_seeds}")
    t_start = time.perf_counter()
    (log or _silent)(f"loading {len(run_dirs)} run(s): checkpoints and data")
    runs = load_runs(
        run_dirs, data_dir=data_dir, split=split, n_samples=n_samples, checkpoint=checkpoint
    )
    measurements = measure_tradeoffs(
        runs,
        noise_seeds=noise_seeds,
        robustness_samples=robustness_samples,
        key=key,
        log=log,
        progress=progress,
        seconds=time.perf_counter() - t_start,
    )
    write_tradeoff_report(measurements, out_dir, command=command, log=log)
    return measurements.tables
