"""Benchmark: forward+backward of the MNIST hidden layer (784 -> 800) against a dense layer.

Times, in one process and side by side, the exact LIF layer (``snnjax.lif_layer``,
``max_spikes`` 30, latency-encoded real MNIST test digits, w ~ U(-1, 1) as in the paper's
multi-spike MNIST run) and an equal-size dense layer (matmul + squared ReLU)
forward+backward, each **both ways**: the gradient w.r.t. the weights only (what a first
layer needs) and w.r.t. the weights and the inputs (what a hidden layer of a deeper network
needs), and prints the medians and the ratios on the same gradients, and the peak memory of
each forward+backward (weights and inputs; see ``benchutil.py``): XLA's memory analysis of
the compiled function, and the max RSS of a fresh process that runs only that model
(``--no-rss`` skips these child processes).

    python -m benchmarks.bench_layer --data-dir ../shared/data/mnist
    python -m benchmarks.bench_layer --markdown docs/generated/bench_layer.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import snnjax
from snnjax import cpu_kernel
from snnjax.data import load_dataset
from snnjax.encoding import latency_encode

try:  # python -m benchmarks.bench_layer (from the repository root)
    from benchmarks.benchutil import (
        command_line,
        fmt_bytes,
        machine_line,
        measure_steps_rss,
        rss_cell,
        run_child,
        write_markdown,
        xla_memory,
    )
except ModuleNotFoundError:  # python benchmarks/bench_layer.py: its folder is on sys.path
    from benchutil import (
        command_line,
        fmt_bytes,
        machine_line,
        measure_steps_rss,
        rss_cell,
        run_child,
        write_markdown,
        xla_memory,
    )


def median_time(fn, *args, repeats: int) -> float:
    """Median wall time of ``fn(*args)`` (s) after one warm-up call (compilation excluded)."""
    jax.block_until_ready(fn(*args))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=800)
    ap.add_argument("--max-spikes", type=int, default=30)
    ap.add_argument("--theta", type=float, default=0.2)
    ap.add_argument("--t-max", type=float, default=0.2)
    ap.add_argument("--repeats", type=int, default=20, help="timed calls per round")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median of medians)")
    ap.add_argument(
        "--max-input-events",
        type=int,
        default=None,
        help="static bound on active input events (default: measured max of the batch)",
    )
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument(
        "--no-rss", action="store_true", help="skip the max-RSS child processes (one per model)"
    )
    ap.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the results table here as a Markdown fragment (with a "
        "machine/date/command line), e.g. docs/generated/bench_layer.md",
    )
    ap.add_argument("--child", choices=("snn", "dense"), default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    command = command_line()

    data = load_dataset("mnist", "test", data_dir=args.data_dir)
    images = data.images[: args.batch_size]
    input_times = latency_encode(images)
    n_active = np.asarray(jnp.sum(jnp.isfinite(input_times), axis=(1, 2)))
    bound = args.max_input_events or int(n_active.max())
    key = jax.random.PRNGKey(0)
    weights = jax.random.uniform(key, (784, args.hidden), minval=-1.0, maxval=1.0)
    params = snnjax.LIFParams(tau_syn=0.13, theta=args.theta)
    cot = jax.random.normal(jax.random.PRNGKey(1), (args.batch_size, args.hidden, args.max_spikes))

    def snn_loss(w, t):
        out = snnjax.lif_layer(
            t, w, params, max_spikes=args.max_spikes, t_max=args.t_max, max_input_events=bound
        )
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times * cot, 0.0)), out

    snn_fwd = jax.jit(lambda w, t: snn_loss(w, t)[1].times)
    # Gradients w.r.t. weights AND input times (what a hidden layer of a deeper net needs),
    # and w.r.t. the weights only (a first layer).
    snn_fb = jax.jit(jax.value_and_grad(snn_loss, argnums=(0, 1), has_aux=True))
    snn_fb_w = jax.jit(jax.value_and_grad(snn_loss, argnums=0, has_aux=True))
    x_dense = jnp.asarray(images.reshape(args.batch_size, -1), jnp.float32) / 255.0

    def dense_loss(w, x):
        return jnp.sum(jax.nn.relu(x @ w) ** 2)

    dense_fb = jax.jit(jax.value_and_grad(dense_loss, argnums=(0, 1)))
    dense_fb_w = jax.jit(jax.value_and_grad(dense_loss, argnums=0))

    if args.child:
        # Fresh process: compile and run only one model; report the max RSS around it.
        fn, fargs = (
            (snn_fb, (weights, input_times))
            if args.child == "snn"
            else (dense_fb, (weights, x_dense))
        )
        rss = measure_steps_rss(lambda: median_time(fn, *fargs, repeats=args.repeats))
        print(json.dumps({"model": args.child, **rss}))
        return None

    (_, out), _ = snn_fb(weights, input_times)
    n_spikes = np.asarray(jnp.sum(jnp.isfinite(out.times), axis=(1, 2)))
    results = {
        "device": jax.devices()[0].device_kind,
        "kernel": "compiled C++ (XLA FFI)" if cpu_kernel.use_cpu_kernel(0.13) else "pure JAX",
        "batch_size": args.batch_size,
        "layer": f"784->{args.hidden}, max_spikes={args.max_spikes}",
        "active_inputs_mean": float(n_active.mean()),
        "max_input_events": bound,
        "output_spikes_per_sample": float(n_spikes.mean()),
        "max_spikes_of_a_neuron": int(jnp.max(jnp.sum(jnp.isfinite(out.times), axis=-1))),
        "dropped_spikes": int(out.n_dropped.sum()),
    }
    # Interleave them all so that machine noise hits them alike; report medians.
    fns = {
        "dense_fwd_bwd_w": (dense_fb_w, x_dense),
        "dense_fwd_bwd": (dense_fb, x_dense),
        "snn_fwd": (snn_fwd, input_times),
        "snn_fwd_bwd_w": (snn_fb_w, input_times),
        "snn_fwd_bwd": (snn_fb, input_times),
    }
    per_round = {name: [] for name in fns}
    for _ in range(args.rounds):
        for name, (fn, x) in fns.items():
            per_round[name].append(median_time(fn, weights, x, repeats=args.repeats))
    ms = {f"{name}_ms": 1e3 * statistics.median(v) for name, v in per_round.items()}
    results.update(ms)
    results["ratio_fwd_bwd_w_snn_over_dense"] = ms["snn_fwd_bwd_w_ms"] / ms["dense_fwd_bwd_w_ms"]
    results["ratio_fwd_bwd_snn_over_dense"] = ms["snn_fwd_bwd_ms"] / ms["dense_fwd_bwd_ms"]
    results["snn_memory"] = xla_memory(snn_fb, weights, input_times)
    results["dense_memory"] = xla_memory(dense_fb, weights, x_dense)
    if not args.no_rss:
        child = [
            os.path.abspath(__file__),
            "--repeats",
            str(args.repeats),
            "--batch-size",
            str(args.batch_size),
            "--hidden",
            str(args.hidden),
            "--max-spikes",
            str(args.max_spikes),
            "--theta",
            str(args.theta),
            "--t-max",
            str(args.t_max),
            "--max-input-events",
            str(bound),
        ]
        if args.data_dir:
            child += ["--data-dir", args.data_dir]
        results["rss"] = {m: run_child(child + ["--child", m]) for m in ("snn", "dense")}
    for k, v in results.items():
        print(f"{k:32s} {v:.4g}" if isinstance(v, float) else f"{k:32s} {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.markdown:
        write_markdown(
            args.markdown,
            machine_line(command),
            markdown_table(results),
            [
                f"{results['kernel']} kernel; {results['output_spikes_per_sample']:.0f} "
                f"output spikes per sample, up to {results['max_spikes_of_a_neuron']} "
                f"per neuron, {results['dropped_spikes']} dropped; "
                f"{results['active_inputs_mean']:.0f} active inputs per digit on "
                f"average, bound {results['max_input_events']}; medians of "
                f"{args.rounds} interleaved rounds of {args.repeats} calls."
            ],
        )
    return results


def markdown_table(r) -> list[str]:
    """Timing and memory of one run as a Markdown table."""
    sm, dm, rss = r["snn_memory"], r["dense_memory"], r.get("rss") or {}

    memory = (
        f"{fmt_bytes(sm.get('xla_peak_bytes'))} / {fmt_bytes(dm.get('xla_peak_bytes'))} | "
        f"{rss_cell(rss.get('snn'))} / {rss_cell(rss.get('dense'))} |"
    )
    return [
        "| gradient w.r.t. | kernel | forward | forward + backward | dense forward + backward "
        "| ratio | XLA peak snnjax / dense | max RSS snnjax / dense |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| weights | {r['kernel']} | {r['snn_fwd_ms']:.1f} ms | {r['snn_fwd_bwd_w_ms']:.1f} ms | "
        f"{r['dense_fwd_bwd_w_ms']:.2f} ms | **{r['ratio_fwd_bwd_w_snn_over_dense']:.1f}×** "
        "| | |",
        f"| weights and inputs | {r['kernel']} | {r['snn_fwd_ms']:.1f} ms | "
        f"{r['snn_fwd_bwd_ms']:.1f} ms | {r['dense_fwd_bwd_ms']:.2f} ms | "
        f"**{r['ratio_fwd_bwd_snn_over_dense']:.1f}×** | {memory}",
    ]


if __name__ == "__main__":
    main()
