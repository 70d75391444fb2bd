"""Benchmark: data-parallel training throughput on 1 device vs N devices, side by side.

Builds the train step of each config as ``snnjax.train.train`` does, once without a mesh
(one device) and once data-parallel over N devices (``make_train_step(..., mesh=...)``,
batches split with ``shard_batch`` as the loop does), then times interleaved rounds of
each on the same batch stream: median samples/s and the median per-round speed-up over
one device.

On a CPU the N devices are made with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``
(this script sets it before importing jax): they share the same cores, so on a small
machine this measures the overhead of the sharded step, not a speed-up. On a multi-GPU or
TPU machine it uses the real devices.

    python -m benchmarks.bench_parallel --devices 2
    python -m benchmarks.bench_parallel --markdown docs/generated/bench_parallel.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time


def _args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--configs", default="yinyang_ttfs,mnist_multispike", help="comma-separated config names"
    )
    ap.add_argument("--devices", type=int, default=2, help="data-parallel device count N")
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="default: 64 for Yin-Yang, the config's otherwise",
    )
    ap.add_argument("--steps", type=int, default=5, help="minimum train steps per round")
    ap.add_argument(
        "--min-time", type=float, default=1.0, help="minimum seconds per round and setting"
    )
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    ap.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the results table here as a Markdown fragment",
    )
    return ap.parse_args(argv)


def _run(ctx, n, min_steps, min_time) -> float:
    """Steps of setting ``n`` until ``min_steps`` and ``min_time`` s; samples/s."""
    import jax

    step, _, put = ctx["settings"][n]
    state = ctx["states"][n]
    times, labels, stream = ctx["times"], ctx["labels"], ctx["streams"][n]
    jax.block_until_ready(state)
    t0, k = time.perf_counter(), 0
    while True:
        idx = next(stream)
        state, m = step(state, put(times[idx]), put(labels[idx]))
        k += 1
        if k >= min_steps:
            jax.block_until_ready((state, m))
            dt = time.perf_counter() - t0
            if dt >= min_time:
                ctx["states"][n] = state
                return k * ctx["bs"] / dt


def main(argv=None):
    args = _args(argv)
    if "jax" not in sys.modules:
        flag = f"--xla_force_host_platform_device_count={args.devices}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flag).strip()
    import jax.numpy as jnp

    try:  # python -m benchmarks.bench_parallel (from the repository root)
        from benchmarks.bench_train import BatchStream, bench_config_batch
        from benchmarks.benchutil import command_line, machine_line, write_markdown
    except ModuleNotFoundError:  # python benchmarks/bench_parallel.py: its folder is on sys.path
        from bench_train import BatchStream, bench_config_batch
        from benchutil import command_line, machine_line, write_markdown

    from snnjax.configs import get_config
    from snnjax.data import num_batches
    from snnjax.train import (
        TrainState,
        build_model,
        data_mesh,
        describe_devices,
        init_params,
        input_event_bound,
        make_optimizer,
        make_train_step,
        prepare_data,
        replicate,
        shard_batch,
    )

    command = command_line()
    mesh = data_mesh(args.devices)
    rows = []
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        bs = bench_config_batch(name, args)
        config = dataclasses.replace(get_config(name), batch_size=bs)
        data = prepare_data(config, args.data_dir)
        bound = input_event_bound(config, data)
        model = build_model(config, bound)
        optimizer = make_optimizer(config, num_batches(len(data.train), bs))
        params = init_params(model, data.input_shape, config.seed)
        state0 = TrainState(params, optimizer.init(params), jnp.int32(0))
        times, labels = data.train.times, data.train.labels
        settings = {
            1: (make_train_step(model, config, optimizer), state0, lambda x: x),
            args.devices: (
                make_train_step(model, config, optimizer, mesh=mesh),
                replicate(state0, mesh),
                lambda x: shard_batch(x, mesh),
            ),
        }
        ctx = {
            "settings": settings,
            "times": times,
            "labels": labels,
            "bs": bs,
            "streams": {n: BatchStream(len(labels), bs) for n in settings},
            "states": {n: s[1] for n, s in settings.items()},
        }
        compile_s = {}
        for n in settings:
            t0 = time.perf_counter()
            _run(ctx, n, 1, 0.0)
            compile_s[n] = time.perf_counter() - t0
        sps = {n: [] for n in settings}
        speedup = []
        for _ in range(args.rounds):
            for n in settings:
                sps[n].append(_run(ctx, n, args.steps, args.min_time))
            speedup.append(sps[args.devices][-1] / sps[1][-1])
        rows.extend(
            {
                "config": name,
                "batch_size": bs,
                "devices": n,
                "samples_per_s": statistics.median(sps[n]),
                "speedup": 1.0 if n == 1 else statistics.median(speedup),
                "compile_s": compile_s[n],
                "setting": "one device, no mesh" if n == 1 else describe_devices(mesh),
            }
            for n in settings
        )
        print(f"  done {name}", flush=True)

    table = [
        "| config | batch | devices | samples/s | vs 1 device | compile |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
        *(
            f"| `{r['config']}` | {r['batch_size']} | {r['setting']} | "
            f"{r['samples_per_s']:,.0f} | {r['speedup']:.2f}× | {r['compile_s']:.1f} s |"
            for r in rows
        ),
    ]
    print("\n".join(table))
    if args.markdown:
        write_markdown(
            args.markdown,
            machine_line(command),
            table,
            [
                f"Medians of {args.rounds} interleaved rounds of at least {args.steps} "
                f"steps and {args.min_time:g} s; the per-round speed-up's median."
            ],
        )
    return rows


if __name__ == "__main__":
    main()
