"""Benchmark: steady-state training throughput of the configs against a dense ANN yardstick.

For each config this builds the real jitted train step exactly as :func:`snnjax.train.train`
does (:func:`snnjax.train.prepare_data`, the input-event bounds of
:func:`snnjax.train.input_event_bound` and :func:`snnjax.train.bounds.resolve_bounds`,
:func:`snnjax.train.build_model`,
:func:`snnjax.train.init_params`, :func:`snnjax.train.make_optimizer`,
:func:`snnjax.train.make_train_step`, mini-batches of :func:`snnjax.data.batches` gathered
from the encoded training split) and, in the same process, an equal-size ANN yardstick,
trained with the same Optax Adam, batch size and softmax cross-entropy on the same images /
Yin-Yang features as floats (recovered from the encoded spike times):

* dense configs: an MLP with the same layer sizes and ReLU hidden layers;
* ``mnist_conv``: a CNN of the same shape: 5x5 "valid" convolutions with the same channel
  counts (15, 40), each followed by 2x2 **max** pooling (the ANN analogue of the SNN's
  spike-union pooling, which keeps the earliest spikes), then dense 640 -> 300 -> 10, ReLU.

The first step of each (compilation) is timed separately (``compile_s``); then
``--rounds`` interleaved rounds each run at least ``--steps`` steps and ``--min-time``
seconds of SNN steps, then of yardstick steps, on real batches. Reported: median
samples/s of each and the median of the per-round ratios yardstick/SNN (measured side by
side), and the peak memory of each (see ``benchutil.py``): XLA's memory analysis of the
compiled step, and the max RSS of a fresh process that loads the data and runs only that
model (``--no-rss`` skips these child processes).

Batch size: ``--batch-size`` if given; otherwise **64 for the Yin-Yang configs** (the batch
size asked for in the issue; the Yin-Yang configs themselves train with 50) and the
config's own ``batch_size`` for the others (50 for the dense MNIST configs, 20 for
``mnist_conv``).

    python -m benchmarks.bench_train --data-dir ../shared/data/mnist
    python -m benchmarks.bench_train --configs yinyang_ttfs --batch-size 64
    python -m benchmarks.bench_train --markdown docs/generated/bench_train.md
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
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
from snnjax.train.bounds import resolve_bounds

try:  # python -m benchmarks.bench_train (from the repository root)
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
except ModuleNotFoundError:  # python benchmarks/bench_train.py: its folder is on sys.path
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

DEFAULT_CONFIGS = "yinyang_ttfs,yinyang_multispike,mnist_ttfs,mnist_multispike,mnist_conv"
YINYANG_DEFAULT_BATCH = 64


def dense_inputs(times: np.ndarray, config) -> np.ndarray:
    """The float inputs the spike times encode: images ``pixel/255 = 1 - t/t_window``
    (0 where silent), Yin-Yang features ``f = t/t_window`` (the bias input -> ``bias_time /
    t_window``); shape ``[N, n_in]``, or ``[N, H, W, C]`` for conv configs."""
    t = times[..., 0] if config.architecture == "conv" else times.reshape(times.shape[0], -1)
    finite = np.isfinite(t)
    if config.dataset == "yinyang":
        x = np.where(finite, t, 0.0) / config.t_window
    else:
        x = np.where(finite, 1.0 - t / config.t_window, 0.0)
    return x.astype(np.float32)


def make_cnn(config, optimizer, input_shape):
    """Init and jitted train step of the CNN yardstick of a conv config: per conv layer a
    ``kernel_size`` "valid" convolution with ``conv_features`` channels, ReLU, 2x2 max
    pooling; then the dense layers ``config.sizes`` (ReLU between them)."""
    k = config.kernel_size

    def init(seed):
        keys = iter(jax.random.split(jax.random.key(seed), 16))
        convs, c_in, (h, w) = [], input_shape[-1], input_shape[:2]
        for c_out in config.conv_features:
            fan_in = k * k * c_in
            convs.append(
                (
                    jax.random.normal(next(keys), (k, k, c_in, c_out)) * np.sqrt(2.0 / fan_in),
                    jnp.zeros((c_out,)),
                )
            )
            c_in, h, w = c_out, (h - k + 1) // 2, (w - k + 1) // 2
        sizes = (h * w * c_in,) + tuple(config.sizes)
        dense = [
            (
                jax.random.normal(next(keys), (n_in, n_out)) * np.sqrt(2.0 / n_in),
                jnp.zeros((n_out,)),
            )
            for n_in, n_out in itertools.pairwise(sizes)
        ]
        return {"conv": convs, "dense": dense}

    def objective(params, x, labels):
        h = x
        for w, b in params["conv"]:
            h = (
                jax.lax.conv_general_dilated(
                    h, w, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
                )
                + b
            )
            h = jax.nn.relu(h)
            h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
        h = h.reshape(h.shape[0], -1)
        for i, (w, b) in enumerate(params["dense"]):
            h = h @ w + b
            if i < len(params["dense"]) - 1:
                h = jax.nn.relu(h)
        loss = optax.softmax_cross_entropy_with_integer_labels(h, labels)
        return jnp.mean(loss), (h, loss)

    return _yardstick(init, objective, optimizer)


def make_dense(sizes, optimizer):
    """Init and jitted train step of the dense ANN yardstick (an MLP with ``sizes``)."""

    def init(seed):
        keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
        return [
            (jax.random.normal(k, (n_in, n_out)) * np.sqrt(2.0 / n_in), jnp.zeros((n_out,)))
            for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]

    def objective(params, x, labels):
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        loss = optax.softmax_cross_entropy_with_integer_labels(h, labels)
        return jnp.mean(loss), (h, loss)

    return _yardstick(init, objective, optimizer)


def _yardstick(init, objective, optimizer):
    """``(init_state(seed), step)`` of an ANN with ``objective(params, x, labels)``."""

    @jax.jit
    def step(state: TrainState, x, labels):
        (_, (logits, loss)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params, x, labels
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss_sum": jnp.sum(loss), "correct": jnp.sum(jnp.argmax(logits, -1) == labels)}
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


def bench_config_batch(name, args) -> int:
    """Batch size of ``name`` in this benchmark."""
    config = get_config(name)
    if args.batch_size is not None:
        return args.batch_size
    return YINYANG_DEFAULT_BATCH if config.dataset == "yinyang" else config.batch_size


def setup(name, args, which=("snn", "dense"), backend=None, overrides=()):
    """Data, steps and initial states of config ``name``, exactly as ``snnjax.train.train``
    wires the SNN step; ``which`` selects the models to build, ``backend`` the event
    backend of the SNN (``None``: the default), ``overrides`` are ``key=value`` config
    overrides."""
    bs = bench_config_batch(name, args)
    config = dataclasses.replace(get_config(name, list(overrides)), batch_size=bs)
    t0 = time.perf_counter()
    data = prepare_data(config, args.data_dir)
    prep_s = time.perf_counter() - t0
    bound, _ = resolve_bounds(config, data, input_event_bound(config, data))
    steps_per_epoch = num_batches(len(data.train), config.batch_size)
    out = {
        "config": config,
        "data": data,
        "bound": bound,
        "prep_s": prep_s,
        "bs": bs,
        "times": data.train.times,
        "labels": data.train.labels,
    }
    if "snn" in which:
        model = build_model(config, bound, backend)
        optimizer = make_optimizer(config, steps_per_epoch)
        out["snn_step"] = make_train_step(model, config, optimizer)
        params = init_params(model, data.input_shape, config.seed)
        out["snn_state"] = TrainState(params, optimizer.init(params), jnp.int32(0))
    if "dense" in which:
        dense_opt = make_optimizer(config, steps_per_epoch)
        if config.architecture == "conv":
            dense_init, dense_step = make_cnn(config, dense_opt, data.input_shape)
        else:
            dense_init, dense_step = make_dense(tuple(config.sizes), dense_opt)
        out["dense_step"], out["dense_state"] = dense_step, dense_init(config.seed)
        out["x"] = dense_inputs(data.train.times, config)
    return out


def child_rss(spec: str, args) -> dict:
    """``--child CONFIG:snn|dense``: load the data, then compile and run ``--steps`` steps
    of one model only; the process's max RSS before and after the steps."""
    name, which = spec.split(":")
    s = setup(name, args, which=(which,))
    inputs = s["x"] if which == "dense" else s["times"]
    stream = BatchStream(len(s["labels"]), s["bs"])
    rss = measure_steps_rss(
        lambda: run_steps(
            s[f"{which}_step"], s[f"{which}_state"], inputs, s["labels"], stream, args.steps, 0.0
        )
    )
    return {"config": name, "model": which, **rss}


def bench_config(name, args):
    s = setup(name, args)
    config, bs, bound, prep_s = s["config"], s["bs"], s["bound"], s["prep_s"]
    train_step, snn_state = s["snn_step"], s["snn_state"]
    dense_step, dense_state = s["dense_step"], s["dense_state"]
    times, labels, x = s["times"], s["labels"], s["x"]
    sizes = tuple(config.sizes)

    snn_stream = BatchStream(len(labels), bs)
    dense_stream = BatchStream(len(labels), bs)
    # First step = compilation (plus one step), timed apart from the throughput.
    t0 = time.perf_counter()
    snn_state, _, _ = run_steps(train_step, snn_state, times, labels, snn_stream, 1, 0.0)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    dense_state, _, _ = run_steps(dense_step, dense_state, x, labels, dense_stream, 1, 0.0)
    dense_compile_s = time.perf_counter() - t0
    idx = np.arange(bs)
    snn_mem = xla_memory(train_step, snn_state, times[idx], labels[idx])
    dense_mem = xla_memory(dense_step, dense_state, x[idx], labels[idx])

    snn_sps, dense_sps, ratios = [], [], []
    for _ in range(args.rounds):
        snn_state, n, dt = run_steps(
            train_step, snn_state, times, labels, snn_stream, args.steps, args.min_time
        )
        s = n * bs / dt
        dense_state, n, dt = run_steps(
            dense_step, dense_state, x, labels, dense_stream, args.steps, args.min_time
        )
        d = n * bs / dt
        snn_sps.append(s)
        dense_sps.append(d)
        ratios.append(d / s)
    return {
        "config": name,
        "batch_size": bs,
        "architecture": config.architecture,
        "conv_features": list(config.conv_features),
        "yardstick": (
            "CNN (same conv/pool/dense shape, ReLU, max pooling)"
            if config.architecture == "conv"
            else "MLP (same sizes, ReLU)"
        ),
        "sizes": list(sizes),
        "max_spikes": list(config.max_spikes),
        "loss": config.loss,
        "max_input_events": list(bound),
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
        "snn_memory": snn_mem,
        "dense_memory": dense_mem,
    }


def _rss_children(name, args) -> dict:
    """Max RSS of a fresh process per model (``--child``), keyed ``snn`` / ``dense``."""
    script = os.path.abspath(__file__)
    common = ["--data-dir", args.data_dir, "--steps", str(args.steps)]
    if args.batch_size is not None:
        common += ["--batch-size", str(args.batch_size)]
    return {
        which: run_child([script, "--child", f"{name}:{which}", *common])
        for which in ("snn", "dense")
    }


def markdown_table(rows) -> list[str]:
    """The results as Markdown tables: throughput, then peak memory."""
    out = [
        "| config | batch | snnjax samples/s | yardstick samples/s | yardstick / snnjax "
        "| compile |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        shape = (
            "conv " + "-".join(map(str, r["conv_features"])) + ", "
            if r["architecture"] == "conv"
            else ""
        )
        shape += "-".join(map(str, r["sizes"]))
        out.append(
            f"| `{r['config']}` ({shape}) | {r['batch_size']} | "
            f"{r['snn_samples_per_s']:,.0f} | {r['dense_samples_per_s']:,.0f} "
            f"({r['yardstick'].split(' ')[0]}) | {r['ratio_dense_over_snn']:.1f} | "
            f"{r['compile_s']:.1f} s |"
        )
    out += [
        "",
        "Peak memory of one train step (XLA: temp + arguments + outputs of the compiled "
        "step; RSS: max resident memory of a fresh process that loads the data and runs only "
        "that model, and in brackets the peak added during its compilation and steps):",
        "",
        "| config | snnjax XLA peak (temp) | yardstick XLA peak (temp) "
        "| snnjax max RSS (+steps) | yardstick max RSS (+steps) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        sm, dm = r["snn_memory"], r["dense_memory"]
        rss = r.get("rss") or {}
        out.append(
            f"| `{r['config']}` | {fmt_bytes(sm.get('xla_peak_bytes'))} "
            f"({fmt_bytes(sm.get('xla_temp_bytes'))}) | "
            f"{fmt_bytes(dm.get('xla_peak_bytes'))} ({fmt_bytes(dm.get('xla_temp_bytes'))}) "
            f"| {rss_cell(rss.get('snn'))} | {rss_cell(rss.get('dense'))} |"
        )
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=DEFAULT_CONFIGS, help="comma-separated config names")
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"default: {YINYANG_DEFAULT_BATCH} for Yin-Yang, the config's otherwise",
    )
    ap.add_argument("--steps", type=int, default=5, help="minimum train steps per round")
    ap.add_argument(
        "--min-time", type=float, default=1.0, help="minimum seconds per round and model"
    )
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    ap.add_argument(
        "--no-rss",
        action="store_true",
        help="skip the max-RSS child processes (one per config and model)",
    )
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument(
        "--markdown",
        default=None,
        metavar="PATH",
        help="write the results tables here as a Markdown fragment (with a "
        "machine/date/command line), e.g. docs/generated/bench_train.md",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child_rss(args.child, args)))
        return None
    command = command_line()

    dev = jax.devices()[0]
    meta = {
        "device": f"{dev.platform}:{dev.device_kind} (x{jax.device_count()})",
        "device_kind": dev.device_kind,
        "jax_version": jax.__version__,
        "snnjax_version": snnjax.__version__,
        "kernel_env": os.environ.get("SNNJAX_KERNEL"),
        "cpu_count": len(os.sched_getaffinity(0)),
        "load_average_start": list(os.getloadavg()),
        "steps": args.steps,
        "min_time": args.min_time,
        "rounds": args.rounds,
        "command": command,
    }
    rows = []
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        row = bench_config(name, args)
        row["kernel"] = (
            "compiled C++ (XLA FFI)"
            if cpu_kernel.use_cpu_kernel(get_config(name).tau_syn)
            else "pure JAX"
        )
        if not args.no_rss:
            row["rss"] = _rss_children(name, args)
        rows.append(row)
        print(
            f"  done {name}: snn {row['snn_samples_per_s']:.0f}/s, dense "
            f"{row['dense_samples_per_s']:.0f}/s",
            flush=True,
        )
    meta["load_average_end"] = list(os.getloadavg())

    print(
        f"device {meta['device']}, jax {meta['jax_version']}, load average "
        f"{meta['load_average_start'][0]:.2f} -> {meta['load_average_end'][0]:.2f} "
        f"on {meta['cpu_count']} cores; medians of {args.rounds} rounds"
    )
    for line in markdown_table(rows):
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**meta, "results": rows}, f, indent=2)
    if args.markdown:
        kernels = sorted({r["kernel"] for r in rows})
        write_markdown(
            args.markdown,
            machine_line(command),
            markdown_table(rows),
            [
                f"Kernel: {', '.join(kernels)}; medians of {args.rounds} interleaved "
                f"rounds of at least {args.steps} steps and {args.min_time:g} s; load "
                f"average {meta['load_average_start'][0]:.1f} at the start."
            ],
        )
    return {**meta, "results": rows}


if __name__ == "__main__":
    main()
