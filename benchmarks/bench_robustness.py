"""Benchmark: a robustness sweep (100 noise seeds x 6 noise levels) on the MNIST test set.

Times :func:`snnjax.analysis.robustness_sweep` — every seed evaluated inside one compiled
call (``jax.vmap`` over the seed keys by default) — for a 784-800-10 network of the paper
(multi-spike by default; ``--readout ttfs`` for the TTFS network) and, side by side on a small
subset, the other seed modes (``fold``: seeds folded into the batch axis; ``map``:
``lax.map`` over seeds) and a Python loop over the seeds (``python_loop=True``: the same
jitted per-seed function called once per seed), checking that all give identical accuracies
and reporting the speed-up over the loop. ``--kernel xla`` runs the pure-JAX event kernel
(the GPU/TPU path) instead of the compiled CPU kernel.

Parameters come from an Orbax checkpoint (``--checkpoint``: a run directory, its
``checkpoints/best/<epoch>`` folder or the ``state`` item inside it) or, without one, from
the paper's random initialisation (the output says so: the accuracies are then chance-level
and only the timings mean something).

    python -m benchmarks.bench_robustness --n-test 500
    python -m benchmarks.bench_robustness --checkpoint runs/mnist_multi --n-test 10000

Cost: about ``n_seeds x n_levels x n_test`` forward passes (~1.5 ms each for the randomly
initialised multi-spike network on the shared 2-core CPU this was written on: 462 s for
``--n-test 500``), so the full test set (6 M passes) takes hours on such a CPU; use
``--n-test`` to subsample (the first ``n`` test digits).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import analysis
from snnjax.data import load_dataset
from snnjax.encoding import latency_encode
from snnjax.losses import predict_from_counts, predict_from_first_spike
from snnjax.nn import make_dense_network

try:  # python -m benchmarks.bench_robustness (from the repository root)
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/bench_robustness.py: its folder is on sys.path
    from benchutil import command_line, machine_line, write_markdown

DEFAULT_LEVELS = {
    "input_jitter": [0.0, 0.001, 0.002, 0.005, 0.01, 0.02],  # sigma (s)
    "input_deletion": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],  # p
    "weight_noise": [0.0, 0.05, 0.1, 0.2, 0.3, 0.5],  # relative sigma
    "hidden_jitter": [0.0, 0.001, 0.002, 0.005, 0.01, 0.02],  # sigma (s)
}

PAPER_NETWORKS = {  # SPEC §6
    "count": dict(thetas=(0.2, 1.3), max_spikes=(30, 30), t_max=0.2, init=("uniform", -1, 1)),
    "ttfs": dict(thetas=(0.7, 2.0), max_spikes=(1, 1), t_max=1.0, init=("uniform", 0, 1)),
}


def load_params(path: str):
    """Flax variables ``{"params": ...}`` from an Orbax checkpoint of a training run."""
    import orbax.checkpoint as ocp

    p = Path(path).resolve()
    candidates = [p, p / "state"]
    for kind in ("best", "last"):
        steps = sorted(
            (p / "checkpoints" / kind).glob("*"),
            key=lambda d: int(d.name) if d.name.isdigit() else -1,
        )
        candidates += [s / "state" for s in reversed(steps) if s.name.isdigit()]
    for c in candidates:
        meta = (c / "_METADATA").exists() or (c / "_CHECKPOINT_METADATA").exists()
        if c.is_dir() and meta:
            tree = ocp.PyTreeCheckpointer().restore(str(c))
            params = tree.get("params", tree)
            if "params" not in params:
                params = {"params": params}
            return jax.tree_util.tree_map(jnp.asarray, params), str(c)
    raise FileNotFoundError(f"no Orbax checkpoint found under {p}")


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--n-test", type=int, default=None, help="first n test digits (default all)")
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument(
        "--readout",
        choices=("count", "ttfs"),
        default="count",
        help="count: multi-spike network; ttfs: single-spike network (SPEC §6)",
    )
    ap.add_argument("--kind", choices=analysis.KINDS, default="input_jitter")
    ap.add_argument("--levels", type=float, nargs="+", default=None)
    ap.add_argument("--n-seeds", type=int, default=100)
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples per compiled call (x n_seeds noisy samples at once)",
    )
    ap.add_argument(
        "--loop-samples",
        type=int,
        default=20,
        help="subset on which vmap and the Python loop over seeds are compared",
    )
    ap.add_argument(
        "--compare",
        nargs="+",
        choices=("auto", "vmap", "fold", "map", "loop"),
        default=["vmap", "fold", "map", "loop"],
        help="ways of evaluating the seeds timed side by side on the subset",
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument(
        "--seed-mode",
        choices=("auto", *analysis.SEED_MODES),
        default="auto",
        help="seed mode of the full sweep",
    )
    ap.add_argument("--skip-full", action="store_true", help="only the comparison")
    ap.add_argument(
        "--kernel",
        choices=("auto", "xla"),
        default="auto",
        help="auto: compiled CPU kernel on CPU; xla: the pure-JAX event kernel "
        "(the GPU/TPU path), which vmap vectorises",
    )
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the results as a Markdown fragment (for docs/performance.md)",
    )
    ap.add_argument(
        "--from-json",
        default=None,
        metavar="FILE",
        help="only render --markdown from a results file written by --json",
    )
    args = ap.parse_args(argv)
    if args.from_json:
        if not args.markdown:
            ap.error("--from-json needs --markdown")
        results = json.loads(Path(args.from_json).read_text())
        write_markdown(
            args.markdown,
            results.get("machine", "Measured: (not recorded)"),
            markdown_table(results),
        )
        return
    os.environ["SNNJAX_KERNEL"] = args.kernel  # read when the layers are traced
    levels = args.levels or DEFAULT_LEVELS[args.kind]

    data = load_dataset("mnist", "test", data_dir=args.data_dir)
    n = len(data.labels) if args.n_test is None else min(args.n_test, len(data.labels))
    x = np.asarray(latency_encode(data.images[:n]))
    y = np.asarray(data.labels[:n], np.int32)
    bound_in = int(math.ceil(np.isfinite(x).sum((1, 2)).max() / 16) * 16)

    net_kw = PAPER_NETWORKS[args.readout]
    probe = make_dense_network(sizes=(784, 800, 10), max_input_events=(bound_in, None), **net_kw)
    if args.checkpoint:
        params, source = load_params(args.checkpoint)
        origin = f"checkpoint {source}"
    else:
        params = probe.init(jax.random.key(0), jnp.asarray(x[:1]))
        origin = (
            f"RANDOM initialisation {net_kw['init']} (no checkpoint given): accuracies are "
            "chance-level, only the timings are meaningful"
        )
    # Static bound on the hidden events reaching the output layer: 1.5 x the clean maximum
    # (overflows under noise are counted and reported, never silent).
    clean_fn = jax.jit(probe.apply)
    hidden_max = max(
        int(
            np.isfinite(np.asarray(clean_fn(params, jnp.asarray(x[i : i + 250])).layer_times[0]))
            .sum((1, 2))
            .max()
        )
        for i in range(0, n, 250)
    )
    bound_hidden = max(64, int(math.ceil(1.5 * hidden_max / 64) * 64))
    net = make_dense_network(
        sizes=(784, 800, 10), max_input_events=(bound_in, bound_hidden), **net_kw
    )
    predict = predict_from_counts if args.readout == "count" else predict_from_first_spike
    out = jax.jit(net.apply)(params, jnp.asarray(x[:250]))
    clean_acc = float(np.mean(np.asarray(predict(out.times)[0]) == y[:250]))

    kw = dict(
        n_seeds=args.n_seeds,
        key=jax.random.key(1),
        readout=args.readout,
        batch_size=args.batch_size,
    )
    print(
        f"device: {jax.devices()[0].device_kind}, {jax.local_device_count()} device(s); "
        f"params: {origin}"
    )
    print(
        f"kernel: {args.kernel}; network 784-800-10 ({args.readout}), input-event bounds "
        f"({bound_in}, {bound_hidden}); {args.kind} levels {levels}; {args.n_seeds} seeds; "
        f"clean accuracy (first {min(n, 250)}) {clean_acc:.3f}"
    )

    results = {
        "device": jax.devices()[0].device_kind,
        "kernel": args.kernel,
        "params": origin,
        "kind": args.kind,
        "readout": args.readout,
        "levels": levels,
        "n_seeds": args.n_seeds,
        "max_input_events": [bound_in, bound_hidden],
    }

    results["comparison"] = compare_seed_modes(args, net, params, x, y, levels, kw)
    if not args.skip_full:
        results["full"] = full_sweep(args, net, params, x, y, levels, kw)
    results["machine"] = machine_line(command_line())
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.markdown:
        write_markdown(args.markdown, results["machine"], markdown_table(results))


def compare_seed_modes(args, net, params, x, y, levels, kw) -> dict:
    """Seed modes vs a Python loop over the seeds on a subset, side by side (compilation
    excluded); prints the table and returns the ``"comparison"`` results."""
    n = len(y)
    m = min(args.loop_samples, n)
    xs, ys = x[:m], y[:m]
    modes = [md for md in args.compare if not (md == "fold" and args.kind == "weight_noise")]
    opts = {md: (dict(python_loop=True) if md == "loop" else dict(seed_mode=md)) for md in modes}
    sweep = lambda md: analysis.robustness_sweep(
        args.kind, net, params, xs, ys, levels, **opts[md], **kw
    )
    first_call, best, per_seed = {}, {}, {}
    for md in modes:  # compile: the last (noisy) level on the same subset (same chunk shapes)
        _, first_call[md] = timed(
            lambda md=md: analysis.robustness_sweep(
                args.kind, net, params, xs, ys, levels[-1:], **opts[md], **kw
            )
        )
    for _ in range(args.repeats):  # interleaved, to share the load of a busy machine fairly
        for md in modes:
            res, dt = timed(lambda md=md: sweep(md))
            best[md] = min(best.get(md, math.inf), dt)
            per_seed[md] = res.per_seed
    ref = per_seed.get("loop")
    comparison = {
        "n_samples": m,
        "repeats": args.repeats,
        "time_s": best,
        "first_call_s": first_call,
        "speedup_vs_loop": {md: best["loop"] / t for md, t in best.items()}
        if ref is not None
        else None,
        "identical_to_loop": {md: bool(np.array_equal(v, ref)) for md, v in per_seed.items()}
        if ref is not None
        else None,
    }
    print(
        f"\nseeds evaluated together vs a Python loop over seeds ({m} samples x "
        f"{len(levels)} levels x {args.n_seeds} seeds = {m * len(levels) * args.n_seeds} "
        f"forward passes; best of {args.repeats}; compilation excluded):"
    )
    print(
        f"  {'mode':>6} {'time (s)':>9} {'ms/pass':>8} {'loop/mode':>10} {'same acc.':>10} "
        f"{'1st call (s)':>13}"
    )
    for md in modes:
        ratio = f"x{best['loop'] / best[md]:.2f}" if ref is not None else "-"
        same = str(bool(np.array_equal(per_seed[md], ref))) if ref is not None else "-"
        print(
            f"  {md:>6} {best[md]:9.2f} {1e3 * best[md] / (m * len(levels) * args.n_seeds):8.2f}"
            f" {ratio:>10} {same:>10} {first_call[md]:13.1f}"
        )
    return comparison


def full_sweep(args, net, params, x, y, levels, kw) -> dict:
    """The sweep over every sample in ``args.seed_mode``; prints and returns the ``"full"``
    results."""
    n = len(y)
    res, dt = timed(
        lambda: analysis.robustness_sweep(
            args.kind, net, params, x, y, levels, seed_mode=args.seed_mode, progress=True, **kw
        )
    )
    passes = args.n_seeds * len(levels) * n
    print(
        f"\nfull sweep ({args.seed_mode}): {n} test digits x {len(levels)} levels x "
        f"{args.n_seeds} seeds = {passes} forward passes in {dt:.1f} s "
        f"({1e3 * dt / passes:.2f} ms each)"
    )
    print(f"  {'level':>8} {'mean acc':>9} {'std':>7}")
    for lv, mu, sd in zip(res.levels, res.mean, res.std, strict=True):
        print(f"  {lv:8.4g} {mu:9.4f} {sd:7.4f}")
    if res.n_input_overflow.any():
        print(
            f"  WARNING: {int(res.n_input_overflow.sum())} input events overflowed the "
            "static bounds; raise max_input_events"
        )
    return {
        "n_samples": n,
        "seed_mode": args.seed_mode,
        "time_s": dt,
        "ms_per_forward": 1e3 * dt / passes,
        "mean": res.mean.tolist(),
        "std": res.std.tolist(),
        "n_input_overflow": int(res.n_input_overflow.sum()),
    }


def markdown_table(results: dict) -> list[str]:
    """The comparison of seed modes and the full sweep as a Markdown table."""
    lines = []
    comp = results.get("comparison")
    if comp:
        n_levels, n_seeds = len(results["levels"]), results["n_seeds"]
        passes = comp["n_samples"] * n_levels * n_seeds
        lines += [
            f"Seeds evaluated together vs a Python loop over the seeds: "
            f"{comp['n_samples']} test digits x {n_levels} levels x {n_seeds} seeds "
            f"({results['kind']}), best of {comp['repeats']}, compilation excluded.",
            "",
            "| seed mode | time (s) | ms per forward pass | speed-up over the loop "
            "| same accuracies as the loop |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for mode, t in comp["time_s"].items():
            speed = comp["speedup_vs_loop"][mode] if comp["speedup_vs_loop"] else None
            same = comp["identical_to_loop"][mode] if comp["identical_to_loop"] else None
            lines.append(
                f"| `{mode}` | {t:.1f} | {1e3 * t / passes:.2f} | "
                f"{'-' if speed is None else f'{speed:.2f}x'} | "
                f"{'-' if same is None else same} |"
            )
    full = results.get("full")
    if full:
        passes = full["n_samples"] * len(results["levels"]) * results["n_seeds"]
        lines += [
            "",
            f"Full sweep (`{full['seed_mode']}`): {full['n_samples']} test digits x "
            f"{len(results['levels'])} levels x {results['n_seeds']} seeds = {passes:,} "
            f"forward passes in **{full['time_s']:.0f} s** ({full['ms_per_forward']:.2f} ms "
            f"each; level 0 is evaluated once per digit); input overflow events: "
            f"{full['n_input_overflow']}.",
            "",
            "| level | mean accuracy | std over seeds |",
            "| ---: | ---: | ---: |",
        ]
        lines += [
            f"| {lv:g} | {m:.4f} | {sd:.4f} |"
            for lv, m, sd in zip(results["levels"], full["mean"], full["std"], strict=True)
        ]
    return lines


if __name__ == "__main__":
    main()
