"""Benchmark: steady-state training throughput of the configs against a dense ANN yardstick.

For each config this builds the real jitted train step exactly as :func:`snnjax.train.train`
does (:func:`snnjax.train.prepare_data`, the ``max_input_events`` bound of
:func:`snnjax.train.input_event_bound`, :func:`snnjax.train.build_model`,
:func:`snnjax.train.init_params`, :func:`snnjax.train.make_optimizer`,
:func:`snnjax.train.make_train_step`, mini-batches of :func:`snnjax.data.batches` gathered
from the encoded training split) and, in the same process, an equal-size dense ANN (same
layer sizes, ReLU hidden layers, softmax cross-entropy, the same Optax Adam, the same batch
size; inputs are the same images / Yin-Yang features as floats, recovered from the encoded
spike times). The first step of each (compilation) is timed separately (``compile_s``);
then ``--rounds`` interleaved rounds each run at least ``--steps`` steps and ``--min-time``
seconds of SNN steps, then of dense steps, on real batches. Reported: median samples/s of
each and the median of the per-round ratios dense/SNN (measured side by side).

Batch size: ``--batch-size`` if given; otherwise **64 for the Yin-Yang configs** (the batch
size asked for in the issue; the Yin-Yang configs themselves train with 50) and the
config's own ``batch_size`` for the others (50 for the MNIST configs).

    python experiments/bench/bench_train.py --data-dir ../shared/data/mnist
    python experiments/bench/bench_train.py --configs yinyang_ttfs --batch-size 64
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import snnjax
from snnjax import cpu_kernel
from snnjax.configs import get_config
from snnjax.data import batches, num_batches
from snnjax.train import (
    TrainState,
    build_model,
    init_params,
    input_event_bound,
    make_optimizer,
    make_train_step,
    prepare_data,
)

DEFAULT_CONFIGS = "yinyang_ttfs,yinyang_multispike,mnist_ttfs,mnist_multispike"
YINYANG_DEFAULT_BATCH = 64


def dense_inputs(times: np.ndarray, config) -> np.ndarray:
    """The float inputs the spike times encode: images ``pixel/255 = 1 - t/t_window``
    (0 where silent), Yin-Yang features ``f = t/t_window`` (the bias input -> ``bias_time /
    t_window``); shape ``[N, n_in]``."""
    t = times.reshape(times.shape[0], -1)
    finite = np.isfinite(t)
    if config.dataset == "yinyang":
        x = np.where(finite, t, 0.0) / config.t_window
    else:
        x = np.where(finite, 1.0 - t / config.t_window, 0.0)
    return x.astype(np.float32)


def make_dense(sizes, optimizer):
    """Init and jitted train step of the dense ANN yardstick (state donated, as the SNN's)."""

    def init(seed):
        keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
        return [(jax.random.normal(k, (n_in, n_out)) * np.sqrt(2.0 / n_in),
                 jnp.zeros((n_out,)))
                for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)]

    def objective(params, x, labels):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        loss = optax.softmax_cross_entropy_with_integer_labels(h, labels)
        return jnp.mean(loss), (h, loss)

    @jax.jit
    def step(state: TrainState, x, labels):
        (_, (logits, loss)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, x, labels)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss_sum": jnp.sum(loss),
                   "correct": jnp.sum(jnp.argmax(logits, -1) == labels)}
        return TrainState(params, opt_state, state.step + 1), metrics

    def init_state(seed):
        params = init(seed)
        return TrainState(params, optimizer.init(params), jnp.int32(0))

    return init_state, step


class BatchStream:
    """Endless mini-batch index stream, epoch after epoch (the loop's order, seed 0)."""

    def __init__(self, n: int, batch_size: int):
        self.n, self.batch_size, self.epoch = n, batch_size, 0
        self._it = iter(())

    def __next__(self) -> np.ndarray:
        try:
            return next(self._it)
        except StopIteration:
            self._it = batches(self.n, self.batch_size, seed=0, epoch=self.epoch)
            self.epoch += 1
            return next(self._it)


def run_steps(step, state, inputs, labels, stream, min_steps, min_time):
    """Run steps (gathering each batch on the host, as the loop does) until at least
    ``min_steps`` and ``min_time`` s; returns ``(state, steps, seconds)``."""
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    n = 0
    while True:
        idx = next(stream)
        state, m = step(state, inputs[idx], labels[idx])
        n += 1
        if n >= min_steps:
            jax.block_until_ready((state, m))
            dt = time.perf_counter() - t0
            if dt >= min_time:
                return state, n, dt


def bench_config(name, args):
    config = get_config(name)
    if args.batch_size is not None:
        bs = args.batch_size
    elif config.dataset == "yinyang":
        bs = YINYANG_DEFAULT_BATCH
    else:
        bs = config.batch_size
    config = dataclasses.replace(config, batch_size=bs)
    t0 = time.perf_counter()
    data = prepare_data(config, args.data_dir)
    prep_s = time.perf_counter() - t0
    # Exactly as snnjax.train.train wires the step.
    bound = input_event_bound(config, data)
    steps_per_epoch = num_batches(len(data.train), config.batch_size)
    model = build_model(config, bound)
    optimizer = make_optimizer(config, steps_per_epoch)
    train_step = make_train_step(model, config, optimizer)
    params = init_params(model, data.input_shape, config.seed)
    snn_state = TrainState(params, optimizer.init(params), jnp.int32(0))

    sizes = tuple(config.sizes)
    dense_opt = make_optimizer(config, steps_per_epoch)
    dense_init, dense_step = make_dense(sizes, dense_opt)
    dense_state = dense_init(config.seed)
    times, labels = data.train.times, data.train.labels
    x = dense_inputs(times, config)

    snn_stream = BatchStream(len(labels), bs)
    dense_stream = BatchStream(len(labels), bs)
    # First step = compilation (plus one step), timed apart from the throughput.
    t0 = time.perf_counter()
    snn_state, _, _ = run_steps(train_step, snn_state, times, labels, snn_stream, 1, 0.0)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dense_state, _, _ = run_steps(dense_step, dense_state, x, labels, dense_stream, 1, 0.0)
    dense_compile_s = time.perf_counter() - t0

    snn_sps, dense_sps, ratios = [], [], []
    for _ in range(args.rounds):
        snn_state, n, dt = run_steps(train_step, snn_state, times, labels, snn_stream,
                                     args.steps, args.min_time)
        s = n * bs / dt
        dense_state, n, dt = run_steps(dense_step, dense_state, x, labels, dense_stream,
                                       args.steps, args.min_time)
        d = n * bs / dt
        snn_sps.append(s)
        dense_sps.append(d)
        ratios.append(d / s)
    return {
        "config": name,
        "batch_size": bs,
        "sizes": list(sizes),
        "max_spikes": list(config.max_spikes),
        "loss": config.loss,
        "max_input_events": bound,
        "n_train": len(labels),
        "snn_samples_per_s": statistics.median(snn_sps),
        "dense_samples_per_s": statistics.median(dense_sps),
        "ratio_dense_over_snn": statistics.median(ratios),
        "compile_s": compile_s,
        "dense_compile_s": dense_compile_s,
        "prepare_data_s": prep_s,
        "rounds_snn_samples_per_s": snn_sps,
        "rounds_dense_samples_per_s": dense_sps,
        "rounds_ratio": ratios,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated config names")
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument("--batch-size", type=int, default=None,
                    help=f"default: {YINYANG_DEFAULT_BATCH} for Yin-Yang, the config's otherwise")
    ap.add_argument("--steps", type=int, default=5, help="minimum train steps per round")
    ap.add_argument("--min-time", type=float, default=1.0,
                    help="minimum seconds per round and model")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    ap.add_argument("--json", default=None, help="write the results here")
    args = ap.parse_args(argv)

    dev = jax.devices()[0]
    meta = {
        "device": f"{dev.platform}:{dev.device_kind} (x{jax.device_count()})",
        "device_kind": dev.device_kind,
        "jax_version": jax.__version__,
        "snnjax_version": snnjax.__version__,
        "kernel_env": os.environ.get("SNNJAX_KERNEL"),
        "cpu_count": os.cpu_count(),
        "load_average_start": list(os.getloadavg()),
        "steps": args.steps, "min_time": args.min_time, "rounds": args.rounds,
    }
    rows = []
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        row = bench_config(name, args)
        row["kernel"] = ("compiled C++ (XLA FFI)" if cpu_kernel.use_cpu_kernel(
            get_config(name).tau_syn) else "pure JAX")
        rows.append(row)
        print(f"  done {name}: snn {row['snn_samples_per_s']:.0f}/s, dense "
              f"{row['dense_samples_per_s']:.0f}/s", flush=True)
    meta["load_average_end"] = list(os.getloadavg())

    print(f"device {meta['device']}, jax {meta['jax_version']}, load average "
          f"{meta['load_average_start'][0]:.2f} -> {meta['load_average_end'][0]:.2f} "
          f"on {meta['cpu_count']} cores; medians of {args.rounds} rounds")
    head = (f"{'config':20s} {'batch':>5s} {'snn samples/s':>14s} {'dense samples/s':>16s} "
            f"{'dense/snn':>10s} {'compile_s':>10s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['config']:20s} {r['batch_size']:5d} {r['snn_samples_per_s']:14.1f} "
              f"{r['dense_samples_per_s']:16.1f} {r['ratio_dense_over_snn']:10.1f} "
              f"{r['compile_s']:10.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**meta, "results": rows}, f, indent=2)
    return {**meta, "results": rows}


if __name__ == "__main__":
    main()
