"""The ``snnjax`` command (also ``python -m snnjax``): train the paper's networks, evaluate
runs, list configs.

::

    snnjax train                      # Yin-Yang multi-spike (the default), a few minutes on a CPU
    snnjax train mnist_multispike --epochs 5 --data-dir ../shared/data/mnist --out runs/m1
    snnjax train yinyang_ttfs --set lr=0.001 --set max_spikes=1,1
    snnjax train mnist_multispike --devices all   # data-parallel over all local GPUs/TPUs
    snnjax eval runs/m1
    snnjax configs
    snnjax runs runs/                 # the runs under a folder: epochs, accuracy, status
    snnjax tradeoffs runs/yy_multispike runs/yy_ttfs --out runs/tradeoffs-yy
    snnjax convergence --out runs/convergence     # the toy convergence maps, ~10 s

``train`` writes ``metrics.jsonl``, ``checkpoints/``, ``config.json``, ``run.json`` and
``results.json`` into ``--out`` (default ``runs/<config>-<timestamp>``). Running the same
command with the same ``--out`` after an interruption resumes from the last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from snnjax.configs import (
    CONFIGS,
    DEFAULT_CONFIG,
    ConfigError,
    apply_overrides,
    config_to_dict,
    get_config,
    list_configs,
)
from snnjax.lif.backend_table import AUTO, ENV_VAR, backend_names  # no JAX import

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``snnjax`` command."""
    parser = argparse.ArgumentParser(
        prog="snnjax",
        description="Exact event-based training of spiking neural networks in JAX "
        "(Bacho & Chu 2023).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    for add in (
        _add_train_parser,
        _add_eval_parser,
        _add_configs_parser,
        _add_runs_parser,
        _add_tradeoffs_parser,
        _add_convergence_parser,
    ):
        add(sub)
    return parser


def _add_train_parser(sub) -> None:
    """``snnjax train``: train a named config."""
    p_train = sub.add_parser(
        "train",
        help="train a named config",
        description="Train a named config (see `snnjax configs`).",
    )
    p_train.add_argument(
        "config", nargs="?", default=DEFAULT_CONFIG, help=f"config name (default: {DEFAULT_CONFIG})"
    )
    p_train.add_argument("--epochs", type=int, help="number of epochs")
    p_train.add_argument("--batch-size", type=int, help="training batch size")
    p_train.add_argument("--seed", type=int, help="seed of the initialisation and batch order")
    p_train.add_argument(
        "--out",
        help="run directory (default: runs/<config>-<timestamp>); an existing run there is resumed",
    )
    p_train.add_argument("--data-dir", help="directory with the IDX files (image datasets)")
    p_train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config field (repeatable); lists are comma-"
        "separated, e.g. --set sizes=5,60,3 --set thetas=0.2,0.3",
    )
    p_train.add_argument(
        "--devices",
        metavar="N|all",
        help="data-parallel training: split each batch over N devices (or "
        "all), averaging the gradients; the batch size must be divisible "
        "by N (default: one device)",
    )
    p_train.add_argument(
        "--distributed",
        action="store_true",
        help="multi-host: call jax.distributed.initialize() first (run the "
        "same command in every process); --devices then counts the "
        "devices of all processes. On SLURM, Open MPI and Cloud TPU the "
        "three settings below are detected; elsewhere give them",
    )
    p_train.add_argument(
        "--coordinator",
        metavar="HOST:PORT",
        help="with --distributed: address of process 0's coordinator",
    )
    p_train.add_argument("--num-processes", type=int, help="with --distributed: process count")
    p_train.add_argument(
        "--process-id",
        type=int,
        help="with --distributed: this process's index, 0 .. num_processes-1",
    )
    _add_backend_flag(p_train)
    p_train.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no per-epoch lines (warnings and the summary still print)",
    )


def _add_eval_parser(sub) -> None:
    """``snnjax eval``: evaluate a run's checkpoint."""
    p_eval = sub.add_parser(
        "eval",
        help="evaluate a run's checkpoint",
        description="Evaluate a run directory written by `snnjax train`.",
    )
    p_eval.add_argument("run_dir", help="run directory")
    p_eval.add_argument("--data-dir", help=_RUN_DATA_DIR_HELP)
    _add_checkpoint_flag(p_eval)
    p_eval.add_argument("--split", choices=("test", "validation", "train"), default="test")
    p_eval.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_backend_flag(p_eval)


def _add_configs_parser(sub) -> None:
    """``snnjax configs``: list the configs or show one."""
    p_configs = sub.add_parser("configs", help="list the named configs (or show one in full)")
    p_configs.add_argument(
        "--show",
        metavar="NAME",
        default=None,
        help="print every field of the config NAME (with --set overrides)",
    )
    p_configs.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of --show's config",
    )


def _add_runs_parser(sub) -> None:
    """``snnjax runs``: the runs under a folder."""
    p_runs = sub.add_parser(
        "runs",
        help="list the runs under a folder: config, epochs, accuracy, status",
        description="List the run directories at or below DIR (default: runs) with their "
        "config, seed, epochs done, best validation accuracy, test accuracy at that epoch "
        "and status: finished, resumable (the same `snnjax train` command goes on), not "
        "started, or broken (the damaged file is named).",
    )
    p_runs.add_argument("dir", nargs="?", default="runs", help="folder (default: runs)")
    p_runs.add_argument("--json", action="store_true", help="one JSON object per run")


def _add_tradeoffs_parser(sub) -> None:
    """``snnjax tradeoffs``: compare trained runs."""
    p_trade = sub.add_parser(
        "tradeoffs",
        help="compare trained runs: accuracy, sparsity, latency, robustness",
        description="Write a trade-off report (report.md, one CSV per table, one PNG + CSV "
        "per plot) comparing trained run directories side by side.",
    )
    p_trade.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    p_trade.add_argument("--out", required=True, help="report directory")
    p_trade.add_argument("--data-dir", help=_RUN_DATA_DIR_HELP)
    p_trade.add_argument("--split", choices=("test", "validation", "train"), default="test")
    p_trade.add_argument(
        "--n-samples", type=int, help="evaluate the first N samples of the split (default: all)"
    )
    # The defaults of snnjax.reports.tradeoffs (DEFAULT_NOISE_SEEDS, ...), spelt out here:
    # the command answers --help without importing JAX (a test checks they agree).
    p_trade.add_argument(
        "--noise-seeds",
        type=int,
        default=None,
        help="noise seeds per robustness level (default: 5; 20 with --full)",
    )
    p_trade.add_argument(
        "--robustness-samples",
        type=int,
        default=None,
        metavar="N",
        help="the robustness sweeps perturb the first N samples (default: 2000; all with "
        "--full); accuracy, sparsity and latency always use every sample",
    )
    p_trade.add_argument(
        "--full",
        action="store_true",
        help="the full robustness sweep: every sample, 20 noise seeds (one MNIST run: about "
        "15 minutes on a 2-core CPU)",
    )
    p_trade.add_argument("--quiet", action="store_true", help="no progress messages or bars")
    _add_checkpoint_flag(p_trade)


def _add_convergence_parser(sub) -> None:
    """``snnjax convergence``: the toy convergence maps."""
    p_conv = sub.add_parser(
        "convergence",
        help="the paper's toy convergence maps (multi-spike vs TTFS)",
        description="Train the toy 4-2 network from a 13 x 13 grid of initial-weight means "
        "and stds (N runs per cell) with both readouts; write report.md, heat maps "
        "(PNG + CSV) and a summary table into --out.",
    )
    p_conv.add_argument("--out", required=True, help="report directory")
    p_conv.add_argument(
        "--n-runs",
        type=int,
        default=100,
        help="initialisations per grid cell (default: 100, as the paper)",
    )
    p_conv.add_argument(
        "--steps", type=int, default=None, help="gradient steps per run (default: the paper's 50)"
    )
    p_conv.add_argument("--seed", type=int, default=0, help="seed of the weight draws")


_RUN_DATA_DIR_HELP = (
    "directory with the IDX files (image datasets); default: the directory the run was "
    "trained from (recorded in its run.json, with the files' checksums)"
)


def _add_checkpoint_flag(parser: argparse.ArgumentParser) -> None:
    # The values and the default of snnjax.train.restore (CHECKPOINTS, DEFAULT_CHECKPOINT),
    # spelt out here: the command answers --help without importing JAX.
    parser.add_argument(
        "--checkpoint",
        choices=("best", "last"),
        default="best",
        help="best: the epoch of highest validation accuracy (the default; the last epoch "
        "if the run has no validation split); last: the last epoch",
    )


def _add_backend_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        choices=(AUTO, *backend_names()),
        help="event backend of the spiking layers: ffi (compiled C++, CPU), "
        "loop (pure JAX, any platform), parallel (pure JAX, parallel in time) or auto "
        f"(ffi on CPU, parallel on GPU/TPU); default: ${ENV_VAR}, else auto",
    )


def _fmt_layers(d: dict[str, float], fmt: str = "{:.1f}") -> str:
    return ", ".join(f"{k} {fmt.format(v)}" for k, v in d.items())


def _cmd_configs(show: str | None = None, overrides: Sequence[str] = ()) -> int:
    if show is not None:
        fields = config_to_dict(get_config(show, list(overrides)))
        width = max(len(k) for k in fields)
        for key, value in fields.items():
            print(f"{key:<{width}}  {json.dumps(value)}")
        return 0
    width = max(len(name) for name in CONFIGS)
    for name, desc in list_configs():
        mark = " (default)" if name == DEFAULT_CONFIG else ""
        print(f"{name:<{width}}  {desc}{mark}")
    return 0


def _cmd_runs(args) -> int:
    from snnjax.train.listing import find_runs, format_runs, summarise_run

    summaries = [summarise_run(path) for path in find_runs(args.dir)]
    if args.json:
        for summary in summaries:
            print(json.dumps(summary.to_json()))
        return 0
    if not summaries:
        print(f"no runs under {args.dir}")
        return 0
    print(format_runs(summaries, args.dir))
    return 0


def _parse_devices(text: str | None) -> int | None:
    """``--devices`` value -> device count (``"all"`` -> every device jax sees)."""
    if text is None:
        return None
    import jax

    if text.strip().lower() == "all":
        return jax.device_count()
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"--devices must be a positive integer or 'all', got {text!r}") from None
    if n < 1:
        raise ValueError(f"--devices must be >= 1, got {n}")
    return n


def _cmd_train(args) -> int:
    if args.distributed:
        import jax

        # Before any other use of jax's devices; None = detect from the cluster environment.
        jax.distributed.initialize(
            coordinator_address=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    elif args.coordinator or args.num_processes is not None or args.process_id is not None:
        raise ValueError("--coordinator, --num-processes and --process-id need --distributed")
    # The config first: a misspelt name or field answers before JAX is imported.
    config = get_config(args.config, args.overrides)
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    config = apply_overrides(config, {k: v for k, v in flags.items() if v is not None})
    from snnjax.train import RunDir, train  # heavy imports only when needed

    devices = _parse_devices(args.devices)
    out = args.out or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    args.out = out
    if not args.quiet:
        print(f"run directory: {out}")
    results = train(
        config, out, data_dir=args.data_dir, quiet=args.quiet, devices=devices, backend=args.backend
    )
    if results is None:  # pragma: no cover - only with stop_after
        return 0
    if args.distributed:
        import jax

        if jax.process_index() != 0:  # one summary per run, from process 0
            return 0
    acc = results["test_accuracy"]
    print(
        f"\n{config.name}: test accuracy {100 * acc:.2f}% after {results['epochs']} epochs "
        f"(seed {results['seed']})"
    )
    if results["selected_by"] == "validation":
        print(
            f"best epoch {results['best_epoch']} (selected by validation accuracy "
            f"{100 * results['best_validation_accuracy']:.2f}%): test accuracy "
            f"{100 * results['best_test_accuracy']:.2f}%"
        )
    print(
        f"spikes per sample ({results['spikes_per_sample_split']}): "
        f"{_fmt_layers(results['spikes_per_sample'])} "
        f"(total {results['spikes_per_sample_total']:.1f})"
    )
    if results["train_samples_per_s"]:
        print(
            f"training throughput {results['train_samples_per_s']:.0f} samples/s on "
            f"{results['device']} (compile {results['compile_time_s']:.1f} s)"
        )
    files = RunDir(out)
    print(
        f"results: {files.results_path}  metrics: {files.metrics_path}  "
        f"checkpoints: {files.checkpoints_path}"
    )
    return 0


def _cmd_eval(args) -> int:
    from snnjax.train import evaluate_run

    result = evaluate_run(
        args.run_dir,
        data_dir=args.data_dir,
        checkpoint=args.checkpoint,
        split=args.split,
        backend=args.backend,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"{result['config_name']} ({args.run_dir}), {result['checkpoint']} checkpoint "
        f"(epoch {result['epoch']}), {result['split']} split ({result['n']} samples):"
    )
    print(
        f"  accuracy {100 * result['accuracy']:.2f}%  (all outputs silent: "
        f"{result['silent_output_fraction']:.1%}, label neuron silent: "
        f"{result['label_silent_fraction']:.1%})"
    )
    total = sum(result["spikes_per_sample"].values())
    print(f"  spikes per sample: {_fmt_layers(result['spikes_per_sample'])} (total {total:.1f})")
    print(f"  silent neurons: {_fmt_layers(result['silent_neurons'], '{:.1%}')}")
    dropped = {
        k: v
        for k, v in result["dropped_spikes_per_sample"].items()
        if v > 0 and result["max_spikes"][k] > 1
    }  # 1-slot (TTFS) layers: by design
    if dropped:
        print(f"  DROPPED spikes per sample (buffers full): {_fmt_layers(dropped, '{:.3g}')}")
    overflow = {k: v for k, v in result["input_overflow_per_sample"].items() if v > 0}
    if overflow:
        print(f"  INPUT OVERFLOW events per sample: {_fmt_layers(overflow, '{:.3g}')}")
    return 0


def _robustness_sweep_size(args) -> dict:
    """``noise_seeds`` and ``robustness_samples`` from ``--noise-seeds``,
    ``--robustness-samples`` and ``--full`` (explicit values win over ``--full``)."""
    from snnjax.reports import tradeoffs

    if args.full:
        seeds, samples = tradeoffs.FULL_NOISE_SEEDS, None
    else:
        seeds, samples = tradeoffs.DEFAULT_NOISE_SEEDS, tradeoffs.DEFAULT_ROBUSTNESS_SAMPLES
    if args.noise_seeds is not None:
        seeds = args.noise_seeds
    if args.robustness_samples is not None:
        samples = args.robustness_samples
    return {"noise_seeds": seeds, "robustness_samples": samples}


def _cmd_tradeoffs(args, argv: Sequence[str] | None) -> int:
    from snnjax._command import invoked_command
    from snnjax.reports.tradeoffs import tradeoff_report

    command = invoked_command(sys.argv[1:] if argv is None else argv)
    sweep = _robustness_sweep_size(args)
    tables = tradeoff_report(
        args.run_dirs,
        args.out,
        data_dir=args.data_dir,
        split=args.split,
        n_samples=args.n_samples,
        checkpoint=args.checkpoint,
        command=command,
        log=None if args.quiet else lambda msg: print(msg, file=sys.stderr),
        progress=not args.quiet and sys.stderr.isatty(),
        **sweep,
    )
    for name, acc in tables["performance"]["accuracy"].items():
        print(f"{name}: accuracy {100 * acc:.2f}%")
    print(f"report: {args.out}/report.md")
    return 0


def _cmd_convergence(args, argv: Sequence[str] | None) -> int:
    from snnjax._command import invoked_command
    from snnjax.reports.convergence import READOUTS, convergence_report

    command = invoked_command(sys.argv[1:] if argv is None else argv)
    summary = convergence_report(
        args.out,
        n_runs=args.n_runs,
        n_steps=args.steps,
        seed=args.seed,
        command=command,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    for readout, label in READOUTS:
        s = summary[readout]
        print(
            f"{label}: solved {100 * s['mean solved']:.1f}% of runs over the grid, "
            f"{100 * s['cells with solved >= 0.9']:.1f}% of cells solved in >= 90% of runs"
        )
    print(f"report: {args.out}/report.md")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``snnjax`` command; returns the exit status.

    Errors a user can fix (unknown config or key, bad value, missing data, a run directory
    of another config) print one clear message to stderr and return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "configs":
            return _cmd_configs(args.show, args.overrides)
        if args.command == "runs":
            return _cmd_runs(args)
        if args.command == "train":
            return _cmd_train(args)
        if args.command == "tradeoffs":
            return _cmd_tradeoffs(args, argv)
        if args.command == "convergence":
            return _cmd_convergence(args, argv)
        return _cmd_eval(args)
    except (ConfigError, FileNotFoundError, ValueError) as err:
        print(f"snnjax {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = f" --out {args.out}" if getattr(args, "out", None) else ""
        print(
            f"\ninterrupted; run the same command with{where or ' the same --out'} to "
            "resume from the last checkpoint",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
