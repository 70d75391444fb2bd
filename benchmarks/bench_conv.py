"""Benchmark: where one ``mnist_conv`` train step spends its time, and the step against the CNN.

On a loaded machine wall-clock times swing by 2x or more; this script reports, besides
wall-clock medians, the **CPU time** of each call (``time.process_time``: all threads of
the process), which counts the work done and is much less sensitive to other processes.

1. Per layer of the network (real MNIST digits, the config's batch, initial weights):
   forward and forward + backward (a random cotangent on the emitted spikes) of each
   layer on its real input, jitted separately.
2. The full train step (:func:`snnjax.train.make_train_step`, as ``bench_train``: with
   the config's elastic augmentation of the inputs inside the step), the same step without
   the augmentation, the augmentation alone, and the same-shape CNN yardstick of
   ``bench_train`` (same batch, same undistorted images, Adam), in ``--rounds``
   interleaved rounds of ``--steps`` steps each: medians and their ratios to the CNN.

    python -m benchmarks.bench_conv --data-dir ../shared/data/mnist
    python -m benchmarks.bench_conv --rounds 5 --steps 5 --no-layers
    python -m benchmarks.bench_conv --markdown docs/generated/bench_conv.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

try:  # python -m benchmarks.bench_conv (from the repository root)
    from benchmarks import bench_train
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/bench_conv.py
    import bench_train
    from benchutil import command_line, machine_line, write_markdown


def _timed(fn, *args) -> tuple[float, float]:
    """(wall s, CPU s) of one call, finished."""
    w0, c0 = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - w0, time.process_time() - c0


def _median_ms(fn, *args, n: int) -> tuple[float, float]:
    jax.block_until_ready(fn(*args))
    runs = [_timed(fn, *args) for _ in range(n)]
    return tuple(1e3 * statistics.median(r[i] for r in runs) for i in (0, 1))


def _cotangent(y: jax.Array) -> jax.Array:
    noise = np.random.default_rng(0).normal(size=y.shape)
    return jnp.where(jnp.isfinite(y), jnp.asarray(noise, y.dtype), jnp.zeros((), y.dtype))


def layer_profile(model, params, x0, n: int) -> list[dict]:
    """Forward and forward+backward (wall, CPU ms) of every layer on its real input."""
    out = jax.jit(model.apply)({"params": params}, x0)
    inputs = [x0, *out.layer_times]
    rows = []
    for i, layer in enumerate(model.layers):
        x, p = inputs[i], params.get(f"layers_{i}", {})

        def apply(p, x, layer=layer):
            y = layer.apply({"params": p} if p else {}, x)
            return y.times if hasattr(y, "times") else y

        def both(p, x, c, apply=apply):
            return jax.vjp(apply, p, x)[1](c)

        fwd = _median_ms(jax.jit(apply), p, x, n=n)
        bwd = _median_ms(jax.jit(both), p, x, _cotangent(inputs[i + 1]), n=n)
        rows.append(
            {
                "layer": f"{i} {type(layer).__name__}",
                "in": f"{tuple(x.shape)}, {int(jnp.isfinite(x).sum())} spikes",
                "fwd": fwd,
                "fwd_bwd": bwd,
            }
        )
    return rows


def step_rounds(s, models, rounds: int, steps: int) -> dict:
    """Interleaved rounds of train steps of ``models`` (name -> (step, state, inputs)):
    per-step (wall, CPU) medians."""
    bs, labels = s["bs"], s["labels"]
    times = {name: [] for name in models}
    batch = 0
    for _ in range(rounds + 1):  # the first round compiles
        for name, (step, state, inputs) in models.items():
            for k in range(steps):
                lo = ((batch + k) * bs) % (len(labels) - bs)
                xb, lb = jnp.asarray(inputs[lo : lo + bs]), jnp.asarray(labels[lo : lo + bs])
                times[name].append(_timed(step, state, xb, lb))
        batch += steps
    out = {}
    for name, runs in times.items():
        runs = runs[steps:]  # drop the compiling round
        out[name] = tuple(1e3 * statistics.median(r[i] for r in runs) for i in (0, 1))
    return out


def unaugmented_step(s):
    """The SNN train step of the config without its input augmentation (the CNN
    yardstick trains on the undistorted images)."""
    from snnjax.train import build_model, make_optimizer, make_train_step

    config = dataclasses.replace(s["config"], augment=None)
    model = build_model(config, s["bound"])
    optimizer = make_optimizer(config, 1000)
    return make_train_step(model, config, optimizer)


def augmentation_only(s):
    """The config's input augmentation alone, jitted (what the SNN step adds first)."""
    from snnjax.train.step import make_input_augmentation

    augment = make_input_augmentation(s["config"])
    return jax.jit(lambda state, times, labels: augment(times, 0, state.step))


def layer_table(rows: list[dict]) -> list[str]:
    """Markdown rows of :func:`layer_profile`."""
    return [
        "| layer | input | fwd wall / CPU ms | fwd+bwd wall / CPU ms |",
        "| --- | --- | ---: | ---: |",
        *(
            f"| {r['layer']} | {r['in']} | {r['fwd'][0]:.1f} / {r['fwd'][1]:.1f} "
            f"| {r['fwd_bwd'][0]:.1f} / {r['fwd_bwd'][1]:.1f} |"
            for r in rows
        ),
    ]


def step_table(res: dict, cnn: str) -> list[str]:
    """Markdown rows of :func:`step_rounds`, each with its ratio to the ``cnn`` entry."""
    cnn_wall, cnn_cpu = res[cnn]
    return [
        "| train step | wall ms | CPU ms | / CNN (wall) | / CNN (CPU) |",
        "| --- | ---: | ---: | ---: | ---: |",
        *(
            f"| {name} | {wall:.1f} | {cpu:.1f} | **{wall / cnn_wall:.1f}×** "
            f"| {cpu / cnn_cpu:.1f}× |"
            for name, (wall, cpu) in res.items()
        ),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--steps", type=int, default=5, help="train steps per round and model")
    ap.add_argument("--calls", type=int, default=7, help="calls per layer timing (median)")
    ap.add_argument("--no-layers", action="store_true", help="skip the per-layer profile")
    ap.add_argument("--markdown", default=None, metavar="PATH", help="write the tables here")
    args = ap.parse_args(argv)
    command = command_line()
    setup_args = argparse.Namespace(batch_size=None, data_dir=args.data_dir)
    s = bench_train.setup("mnist_conv", setup_args)
    load_start = os.getloadavg()[0]
    print(f"load average at the start: {load_start:.1f} on {os.cpu_count()} cores")
    tables: list[str] = []
    if not args.no_layers:
        from snnjax.train import build_model

        model = build_model(s["config"], s["bound"])
        x0 = jnp.asarray(s["times"][: s["bs"]])
        tables += layer_table(layer_profile(model, s["snn_state"].params, x0, args.calls))
        print("\n".join(tables))
        tables.append("")
    cnn = "CNN (no augmentation)"
    models = {
        "snnjax (as trained: elastic augmentation in the step)": (
            s["snn_step"],
            s["snn_state"],
            s["times"],
        ),
        "snnjax without augmentation": (unaugmented_step(s), s["snn_state"], s["times"]),
        "augmentation alone": (augmentation_only(s), s["snn_state"], s["times"]),
        cnn: (s["dense_step"], s["dense_state"], s["x"]),
    }
    res = step_rounds(s, models, args.rounds, args.steps)
    print(f"train step, batch {s['bs']}, medians:")
    print("\n".join(step_table(res, cnn)))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    if args.markdown:
        threads = os.environ.get("OMP_NUM_THREADS", "all cores")
        write_markdown(
            args.markdown,
            machine_line(command),
            tables + step_table(res, cnn),
            [
                f"`mnist_conv`, batch {s['bs']} of real MNIST digits, initial weights; "
                f"medians of {args.calls} calls per layer and of {args.rounds} interleaved "
                f"rounds of {args.steps} steps per model. CPU time is `time.process_time` "
                f"(all threads); the kernel's OpenMP threads: {threads}; load average "
                f"{load_start:.1f} at the start. The CNN yardstick (same shape, max pooling, "
                "ReLU, Adam) trains on the same batches as floats, without augmentation; "
                "compare it with the SNN step without augmentation (the same work).",
            ],
        )
    return res


if __name__ == "__main__":
    main()
