"""Benchmark: the train step with and without the later layers' input-event bounds.

For each config (default ``mnist_multispike``) and event backend (default ``ffi`` and
``loop``) this builds the train step as :func:`snnjax.train.train` does, twice: with the
bounds the run would use (``spike_input_events`` of the config, ``"auto"`` calibrated by
:func:`snnjax.train.bounds.resolve_bounds`) and with every slot (``spike_input_events=none``,
e.g. 800 x 30 = 24,000 events for the output layer of ``mnist_multispike``). It first checks
on a few training batches that both give the same spike times (bitwise) and the same
updated parameters, then times them in interleaved rounds on the same batches and
reports medians, side by side, in one process.

    python -m benchmarks.bench_bound --data-dir ../shared/data/mnist
    python -m benchmarks.bench_bound --configs mnist_multispike,fashion_mnist --rounds 5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.configs import get_config
from snnjax.data import batches
from snnjax.train import (
    TrainState,
    build_model,
    init_params,
    input_event_bound,
    make_optimizer,
    make_train_step,
    prepare_data,
)
from snnjax.train.bounds import input_slots, resolve_bounds

try:  # python -m benchmarks.bench_bound (from the repository root)
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/bench_bound.py
    from benchutil import command_line, machine_line, write_markdown


def _variant(config, bounds, backend, data, batch):
    """``(forward, step, state)`` of the network with ``bounds`` on ``backend``."""
    model = build_model(config, bounds, backend)
    optimizer = make_optimizer(config, 100)
    params = init_params(model, data.input_shape, config.seed)
    state = TrainState(params, optimizer.init(params), jnp.int32(0))
    forward = jax.jit(lambda p, x: model.apply({"params": p}, x))
    return forward, make_train_step(model, config, optimizer), state


def _same(a, b) -> bool:
    return all(
        np.array_equal(np.asarray(x), np.asarray(y))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def _median_ms(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        samples.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(samples)


def bench(name: str, backend: str, args) -> dict:
    """One config on one backend: identity check on ``--check`` batches, then timings."""
    overrides = [f"train_subset={args.train_subset}", "test_subset=100"]
    if args.spike_input_events is not None:
        overrides.append(f"spike_input_events={args.spike_input_events}")
    config = get_config(name, overrides)
    config = dataclasses.replace(config, n_validation=100)
    data = prepare_data(config, args.data_dir)
    first = input_event_bound(config, data)
    bounded, calibration = resolve_bounds(config, data, first)
    free = (first,) + (None,) * (config.n_spiking_layers - 1)
    order = list(batches(len(data.train), config.batch_size, seed=0, epoch=0))
    xs = [(data.train.times[i], data.train.labels[i]) for i in order[: args.check]]
    variants = {b: _variant(config, b, backend, data, xs[0]) for b in (bounded, free)}
    identical = True
    for x, y in xs:
        outs = {b: v[0](v[2].params, x) for b, v in variants.items()}
        steps = {b: v[1](v[2], x, y) for b, v in variants.items()}
        identical &= _same(outs[bounded].layer_times, outs[free].layer_times)
        identical &= _same(steps[bounded][0].params, steps[free][0].params)
        overflow = np.asarray(steps[bounded][1]["overflow"])
        identical &= not overflow.any()
    x, y = xs[0]
    rounds = {b: [] for b in variants}
    for _ in range(args.rounds):
        for b, (_, step, state) in variants.items():
            rounds[b].append(_median_ms(lambda s=step, st=state: s(st, x, y), args.repeats))
    ms = {b: statistics.median(v) for b, v in rounds.items()}
    return {
        "config": name,
        "backend": backend,
        "bounds": list(bounded),
        "slots": list(input_slots(config)),
        "most_events": calibration.get("most_events"),
        "bounded_ms": ms[bounded],
        "free_ms": ms[free],
        "speedup": ms[free] / ms[bounded],
        "identical": bool(identical),
        "checked_batches": len(xs),
    }


def markdown_table(rows) -> list[str]:
    out = [
        "| config | backend | later-layer bounds (slots) | step, bounded | step, every slot "
        "| speed-up | identical results |",
        "| --- | --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        later = ", ".join(
            f"{b} ({s:,})" for b, s in zip(r["bounds"][1:], r["slots"][1:], strict=True)
        )
        out.append(
            f"| `{r['config']}` | {r['backend']} | {later} | {r['bounded_ms']:.1f} ms "
            f"| {r['free_ms']:.1f} ms | **{r['speedup']:.2f}×** "
            f"| {'yes' if r['identical'] else 'NO'} ({r['checked_batches']} batches) |"
        )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="mnist_multispike")
    ap.add_argument("--backends", default="ffi,loop")
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--train-subset", type=int, default=1000)
    ap.add_argument("--check", type=int, default=3, help="batches compared bitwise")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--repeats", type=int, default=3, help="steps per round and variant")
    ap.add_argument(
        "--spike-input-events", default=None, help="the bounds to time (default: the config's)"
    )
    ap.add_argument("--markdown", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    command = command_line()
    rows = []
    for name in args.configs.split(","):
        for backend in args.backends.split(","):
            rows.append(bench(name, backend, args))
            print(rows[-1], flush=True)
    table = markdown_table(rows)
    print("\n".join(table))
    if args.markdown:
        write_markdown(args.markdown, machine_line(command), table)
    return rows


if __name__ == "__main__":
    main()
