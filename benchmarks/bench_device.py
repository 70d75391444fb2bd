"""Benchmark for an accelerator: every event backend of the platform on the MNIST network.

Run it when a GPU or TPU is there (``--quick`` runs a tiny version on any device, for the
tests). It times, in one process and side by side (interleaved rounds, medians):

* the two layers of ``mnist_multispike``, forward + backward (gradient w.r.t. the weights
  and the input times), batch 50 of latency-encoded real MNIST test digits: the hidden
  layer (784 -> 800, ``max_spikes`` 30, ``theta`` 0.2, ``w ~ U(-1, 1)``, input bound = the
  most active pixels of a digit) and the output layer (800 -> 10, ``max_spikes`` 30,
  ``theta`` 1.3), whose input is the hidden layer's spikes with the bound the training loop
  would calibrate (:func:`snnjax.train.bounds.bound_for`); each against a dense layer of
  the same shape (matmul + squared ReLU, the same gradients);
* the full ``mnist_multispike`` train step (as :func:`snnjax.train.train` builds it:
  ``benchmarks.bench_train.setup``) against the MLP yardstick of the same sizes.

Every registered backend that is available and runs on this platform is timed
(:func:`snnjax.lif.backends.available_backends`; a backend added to the registry is picked
up with no change here). The table goes to ``--markdown`` with a header naming the device,
date, jax version and command.

    python -m benchmarks.bench_device --data-dir ../shared/data/mnist \\
        --markdown docs/generated/bench_device.md
    python -m benchmarks.bench_device --quick   # tiny sizes, any device (the tests)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np

import snnjax
from snnjax.data import load_dataset
from snnjax.encoding import latency_encode
from snnjax.lif.backends import available_backends, get_backend
from snnjax.train.bounds import bound_for

try:  # python -m benchmarks.bench_device (from the repository root)
    from benchmarks.bench_layer import median_time
    from benchmarks.bench_train import BatchStream, run_steps, setup
    from benchmarks.benchutil import command_line, machine_line, write_markdown
except ModuleNotFoundError:  # python benchmarks/bench_device.py: its folder is on sys.path
    from bench_layer import median_time
    from bench_train import BatchStream, run_steps, setup
    from benchutil import command_line, machine_line, write_markdown

CONFIG = "mnist_multispike"
TAU_SYN, T_MAX, THETAS, K = 0.13, 0.2, (0.2, 1.3), 30


def platform_backends(platform: str | None = None) -> list[str]:
    """The available registered backends that run on ``platform`` (default: JAX's)."""
    platform = platform or jax.default_backend()
    names = []
    for name in available_backends():
        platforms = get_backend(name).platforms
        if platforms is None or platform in platforms:
            names.append(name)
    return names


def load_digits(data_dir: str | None, n: int) -> np.ndarray:
    """``[n, 28, 28]`` uint8 MNIST test digits; exits with a clear message without them."""
    if data_dir is not None and not os.path.isdir(data_dir):
        raise SystemExit(
            f"bench_device: the MNIST IDX files are needed and {data_dir} is no directory; "
            "pass --data-dir DIR (e.g. ../shared/data/mnist)"
        )
    try:
        return load_dataset("mnist", "test", data_dir=data_dir).images[:n]
    except FileNotFoundError as err:
        raise SystemExit(
            f"bench_device: the MNIST IDX files are needed and were not found ({err}); "
            "pass --data-dir DIR (e.g. ../shared/data/mnist)"
        ) from None


def _layer_fns(theta, bound, backend):
    """Jitted forward+backward (w.r.t. weights and input times) of one LIF layer."""
    params = snnjax.LIFParams(tau_syn=TAU_SYN, theta=theta)

    def loss(w, t):
        out = snnjax.lif_layer(
            t, w, params, max_spikes=K, t_max=T_MAX, max_input_events=bound, backend=backend
        )
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times, 0.0))

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def _dense_fn():
    def loss(w, x):
        return jnp.sum(jax.nn.relu(x @ w) ** 2)

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def layer_inputs(images: np.ndarray, hidden: int) -> dict:
    """Inputs, weights and bounds of the two layers (the output layer's input: the hidden
    layer's spikes)."""
    x1 = latency_encode(images)  # [B, 784, 1]
    w1 = jax.random.uniform(jax.random.key(0), (784, hidden), minval=-1.0, maxval=1.0)
    w2 = jax.random.uniform(jax.random.key(1), (hidden, 10), minval=-1.0, maxval=1.0)
    active = int(jnp.max(jnp.sum(jnp.isfinite(x1), axis=(1, 2))))
    hid = snnjax.lif_layer(
        x1, w1, snnjax.LIFParams(tau_syn=TAU_SYN, theta=THETAS[0]), max_spikes=K, t_max=T_MAX
    )
    emitted = int(jnp.max(jnp.sum(jnp.isfinite(hid.times), axis=(1, 2))))
    x2 = hid.times
    return {
        f"hidden 784→{hidden}": (x1, w1, THETAS[0], active, x1.reshape(x1.shape[0], -1)),
        f"output {hidden}→10": (x2, w2, THETAS[1], bound_for(emitted, hidden * K), None),
    }


def time_layers(cases: dict, backends: list[str], args) -> list[dict]:
    """Median forward+backward times of every layer on every backend and of its dense twin."""
    rows = []
    for layer, (x, w, theta, bound, dense_x) in cases.items():
        fns = {b: (_layer_fns(theta, bound, b), x) for b in backends}
        if dense_x is None:  # the dense twin of the output layer: one float per input
            dense_x = jnp.sum(jnp.isfinite(x), axis=-1).astype(jnp.float32)
        fns["dense"] = (_dense_fn(), dense_x)
        per_round = {name: [] for name in fns}
        for _ in range(args.rounds):
            for name, (fn, inputs) in fns.items():
                per_round[name].append(median_time(fn, w, inputs, repeats=args.repeats))
        dense_ms = 1e3 * statistics.median(per_round.pop("dense"))
        for b, samples in per_round.items():
            ms = 1e3 * statistics.median(samples)
            rows.append(
                {"layer": layer, "bound": bound, "backend": b, "ms": ms, "dense_ms": dense_ms}
            )
    return rows


def time_train(backends: list[str], args) -> list[dict]:
    """Samples/s of the ``mnist_multispike`` train step on every backend and of the MLP."""
    ns = SimpleNamespace(batch_size=args.batch_size, data_dir=args.data_dir)
    overrides = [f"sizes=784,{args.hidden},10", f"train_subset={args.train_subset}"]
    overrides += ["test_subset=10", "n_validation=10"]
    models = {b: setup(CONFIG, ns, ("snn",), b, overrides) for b in backends}
    dense = setup(CONFIG, ns, ("dense",), None, overrides)
    runs = {b: [s["snn_step"], s["snn_state"], s["times"], s["labels"]] for b, s in models.items()}
    runs["dense"] = [dense["dense_step"], dense["dense_state"], dense["x"], dense["labels"]]
    streams = {name: BatchStream(len(r[3]), args.batch_size) for name, r in runs.items()}
    compile_s = {}
    for name, r in runs.items():  # first step: compilation
        t0 = time.perf_counter()
        r[1], _, _ = run_steps(r[0], r[1], r[2], r[3], streams[name], 1, 0.0)
        compile_s[name] = time.perf_counter() - t0
    rates = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, r in runs.items():
            r[1], n, dt = run_steps(
                r[0], r[1], r[2], r[3], streams[name], args.steps, args.min_time
            )
            rates[name].append(n * args.batch_size / dt)
    dense_rate = statistics.median(rates.pop("dense"))
    return [
        {
            "backend": b,
            "samples_per_s": statistics.median(v),
            "step_ms": 1e3 * args.batch_size / statistics.median(v),
            "dense_samples_per_s": dense_rate,
            "compile_s": compile_s[b],
            "bounds": list(models[b]["bound"]),
        }
        for b, v in rates.items()
    ]


def markdown_tables(layers: list[dict], train: list[dict], args) -> list[str]:
    out = [
        f"Layers, forward + backward (gradient w.r.t. weights and input times), batch "
        f"{args.batch_size}, medians of {args.rounds} interleaved rounds of {args.repeats} "
        "calls:",
        "",
        "| layer | input bound | backend | snnjax | dense layer | snnjax / dense |",
        "| --- | ---: | --- | ---: | ---: | ---: |",
    ]
    out.extend(
        f"| {r['layer']} | {r['bound']} | `{r['backend']}` | {r['ms']:.2f} ms "
        f"| {r['dense_ms']:.3f} ms | {r['ms'] / r['dense_ms']:.1f}× |"
        for r in layers
    )
    out += [
        "",
        f"`{CONFIG}` train step (784-{args.hidden}-10, batch {args.batch_size}, input-event "
        "bounds as the training loop sets them), against the MLP of the same sizes:",
        "",
        "| backend | bounds | snnjax samples/s | step | MLP samples/s | MLP / snnjax | compile |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in train:
        out.append(
            f"| `{r['backend']}` | {r['bounds']} | {r['samples_per_s']:,.0f} "
            f"| {r['step_ms']:.1f} ms | {r['dense_samples_per_s']:,.0f} "
            f"| {r['dense_samples_per_s'] / r['samples_per_s']:.1f}× | {r['compile_s']:.1f} s |"
        )
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST IDX files")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one round (the tests)")
    ap.add_argument("--backends", default=None, help="comma-separated (default: all here)")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--repeats", type=int, default=10, help="timed layer calls per round")
    ap.add_argument("--steps", type=int, default=5, help="minimum train steps per round")
    ap.add_argument("--min-time", type=float, default=1.0, help="seconds per round and model")
    ap.add_argument("--train-subset", type=int, default=2000, help="training images loaded")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--markdown", default=None, metavar="PATH", help="write the tables here")
    args = ap.parse_args(argv)
    if args.quick:
        args.batch_size, args.hidden, args.rounds, args.repeats = 4, 16, 1, 1
        args.steps, args.min_time, args.train_subset = 1, 0.0, 8
    return args


def main(argv=None):
    args = parse_args(argv)
    command = command_line()
    backends = args.backends.split(",") if args.backends else platform_backends()
    images = load_digits(args.data_dir, args.batch_size)
    t0 = time.perf_counter()
    layers = time_layers(layer_inputs(images, args.hidden), backends, args)
    train = time_train(backends, args)
    tables = markdown_tables(layers, train, args)
    dev = jax.devices()[0]
    print(
        f"{dev.platform} {dev.device_kind}, jax {jax.__version__}, backends {backends}, "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print("\n".join(tables))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": dev.device_kind, "layers": layers, "train": train}, f, indent=2)
    if args.markdown:
        write_markdown(args.markdown, machine_line(command), tables)
    return {"backends": backends, "layers": layers, "train": train}


if __name__ == "__main__":
    main()
