"""Benchmark: ``jax.vmap`` of the LIF layer against batched calls (the compiled CPU kernel).

Two comparisons, each measured side by side in one process (medians of interleaved rounds),
on the MNIST hidden layer (784 -> 800, ``max_spikes`` 30, the first 50 latency-encoded test
digits, w ~ U(-1, 1), as in ``bench_layer.py``):

* **vmap over samples**: forward + backward (gradients w.r.t. weights and input times) of
  ``jax.vmap`` of a one-sample layer over the 50 digits (shared weights) against one batched
  call. Goal: <= 1.2x the batched call.
* **vmap over weight-noise seeds**: forward of the 50 digits under 16 weight-noise seeds,
  ``jax.vmap`` over ``[16, 784, 800]`` weights against a Python loop of 16 batched calls.
  Goal: >= 2x faster than the loop.

Both check that the two ways give the same spike times (bitwise) and gradients (float
rounding: the weight gradient is summed in another order).

    python -m benchmarks.bench_vmap --data-dir ../shared/data/mnist
    python -m benchmarks.bench_vmap --markdown docs/generated/bench_vmap.md
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import snnjax
from snnjax.data import load_dataset
from snnjax.encoding import latency_encode
from snnjax.lif.backends import backend_name

try:  # python -m benchmarks.bench_vmap (from the repository root)
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/bench_vmap.py: its folder is on sys.path
    from benchutil import command_line, machine_line, write_markdown


def _time(fn, *args) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def interleaved(fns: dict, rounds: int, repeats: int) -> dict[str, float]:
    """Median (s) over ``rounds`` of the per-round median of ``repeats`` calls of each
    ``fns[name] = (fn, args)``, the functions taking turns within every round."""
    for fn, args in fns.values():
        jax.block_until_ready(fn(*args))  # compile
    per_round = {name: [] for name in fns}
    for _ in range(rounds):
        for name, (fn, args) in fns.items():
            per_round[name].append(statistics.median(_time(fn, *args) for _ in range(repeats)))
    return {name: statistics.median(v) for name, v in per_round.items()}


def kernel_calls(fn, *args) -> list[str]:
    """The custom calls (target and result types) of ``fn``'s compiled program, in order:
    two programs with the same list run the same kernels on the same shapes."""
    text = fn.lower(*args).compile().as_text()
    calls = re.findall(r"= (\([^=]*?\)|\S+) custom-call\([^\n]*custom_call_target=\"(\w+)\"", text)
    return [f"{target} -> {re.sub(r'[{][0-9,]*[}]', '', shape)}" for shape, target in calls]


def _max_abs(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(np.where(np.isfinite(a), a - b, 0.0)), initial=0.0))


def samples_case(layer, weights, input_times, cot, rounds, repeats) -> dict:
    """fwd+bwd: vmap of a one-sample layer over the batch vs the batched call."""

    def loss(w, t, c):
        times = layer(t, w)
        return jnp.sum(jnp.where(jnp.isfinite(times), times * c, 0.0))

    batched = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    vmapped = jax.jit(
        jax.value_and_grad(
            lambda w, t, c: jnp.sum(jax.vmap(loss, in_axes=(None, 0, 0))(w, t, c)),
            argnums=(0, 1),
        )
    )
    args = (weights, input_times, cot)
    (_, (gw_b, gt_b)), (_, (gw_v, gt_v)) = batched(*args), vmapped(*args)
    times = interleaved({"batched": (batched, args), "vmap": (vmapped, args)}, rounds, repeats)
    calls_b, calls_v = kernel_calls(batched, *args), kernel_calls(vmapped, *args)
    return {
        "same_kernel_calls": calls_b == calls_v,
        "kernel_calls": calls_v,
        "batched_ms": 1e3 * times["batched"],
        "vmap_ms": 1e3 * times["vmap"],
        "ratio_vmap_over_batched": times["vmap"] / times["batched"],
        "max_abs_diff_d_weights": _max_abs(gw_v, gw_b),
        "max_abs_diff_d_input_times": _max_abs(gt_v, gt_b),
        "max_abs_d_weights": float(jnp.max(jnp.abs(gw_b))),
    }


def seeds_case(layer, weights, input_times, n_seeds, sigma, rounds, repeats) -> dict:
    """Forward under ``n_seeds`` weight-noise draws: vmap over the weights vs a Python loop."""
    eps = jax.random.normal(jax.random.PRNGKey(2), (n_seeds,) + weights.shape)
    noisy = weights * (1.0 + sigma * eps)
    one = jax.jit(lambda w, t: layer(t, w))
    vmapped = jax.jit(jax.vmap(lambda w, t: layer(t, w), in_axes=(0, None)))

    def python_loop(ws, t):
        return [one(ws[s], t) for s in range(ws.shape[0])]

    same = bool(
        np.array_equal(np.asarray(vmapped(noisy, input_times)[3]), one(noisy[3], input_times))
    )
    times = interleaved(
        {"loop": (python_loop, (noisy, input_times)), "vmap": (vmapped, (noisy, input_times))},
        rounds,
        repeats,
    )
    return {
        "kernel_calls_vmap": kernel_calls(vmapped, noisy, input_times),
        "n_seeds": n_seeds,
        "loop_ms": 1e3 * times["loop"],
        "vmap_ms": 1e3 * times["vmap"],
        "speedup_vmap_over_loop": times["loop"] / times["vmap"],
        "bitwise_equal": same,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--max-spikes", type=int, default=30)
    ap.add_argument("--n-seeds", type=int, default=16)
    ap.add_argument("--sigma", type=float, default=0.1, help="relative weight noise")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backend", default=None, help="event backend (default: auto)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    command = command_line()

    images = load_dataset("mnist", "test", data_dir=args.data_dir).images[: args.batch_size]
    input_times = latency_encode(images)
    bound = int(np.asarray(jnp.sum(jnp.isfinite(input_times), axis=(1, 2))).max())
    weights = jax.random.uniform(jax.random.PRNGKey(0), (784, 800), minval=-1.0, maxval=1.0)
    params = snnjax.LIFParams(tau_syn=0.13, theta=0.2)
    cot = jax.random.normal(jax.random.PRNGKey(1), (args.batch_size, 800, args.max_spikes))

    def layer(t, w):
        return snnjax.lif_layer(
            t,
            w,
            params,
            max_spikes=args.max_spikes,
            t_max=0.2,
            max_input_events=bound,
            backend=args.backend,
        ).times

    results = {
        "backend": backend_name(args.backend),
        "batch_size": args.batch_size,
        "max_input_events": bound,
        "samples": samples_case(layer, weights, input_times, cot, args.rounds, args.repeats),
        "seeds": seeds_case(
            layer, weights, input_times, args.n_seeds, args.sigma, args.rounds, args.repeats
        ),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.markdown:
        write_markdown(
            args.markdown,
            machine_line(command),
            markdown_table(results),
            [
                f"{results['backend']} backend; MNIST hidden layer 784->800, max_spikes "
                f"{args.max_spikes}, {args.batch_size} test digits (input-event bound "
                f"{bound}); medians of {args.rounds} interleaved rounds of {args.repeats} "
                "calls. Gradients w.r.t. weights and input times. Spike times of the two "
                f"seed paths bitwise equal: {results['seeds']['bitwise_equal']}; largest "
                "weight-gradient difference (vmap vs batched, summation order): "
                f"{results['samples']['max_abs_diff_d_weights']:.2g} "
                f"(of {results['samples']['max_abs_d_weights']:.3g}). The vmapped and the "
                "batched fwd+bwd compile to the same kernel calls on the same shapes: "
                f"{results['samples']['same_kernel_calls']} ("
                + "; ".join(f"`{c}`" for c in results["samples"]["kernel_calls"])
                + "). The 16 seeds run as one call: "
                + "; ".join(f"`{c}`" for c in results["seeds"]["kernel_calls_vmap"])
                + ".",
            ],
        )
    return results


def markdown_table(r) -> list[str]:
    """The two comparisons as a Markdown table."""
    s, w = r["samples"], r["seeds"]
    return [
        "| comparison | vmap | reference | ratio | goal |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| vmap over {r['batch_size']} samples, fwd+bwd, vs one batched call | "
        f"{s['vmap_ms']:.1f} ms | {s['batched_ms']:.1f} ms | "
        f"**{s['ratio_vmap_over_batched']:.2f}×** the batched call | <= 1.2× |",
        f"| vmap over {w['n_seeds']} weight-noise seeds, forward, vs a Python loop of "
        f"batched calls | {w['vmap_ms']:.1f} ms | {w['loop_ms']:.1f} ms | "
        f"**{w['speedup_vmap_over_loop']:.2f}×** faster than the loop | >= 2× |",
    ]


if __name__ == "__main__":
    main()
