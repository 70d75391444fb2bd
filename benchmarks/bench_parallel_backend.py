"""Benchmark: the event backends side by side on the MNIST hidden layer, and the sequential
depth of the ``"parallel"`` backend.

Forward+backward (gradients w.r.t. weights and input times) of the hidden layer of
``bench_layer.py`` (784 -> 800, ``max_spikes`` 30, the first 50 latency-encoded MNIST test
digits, w ~ U(-1, 1), ``theta`` 0.2, ``t_max`` 0.2, ``max_input_events`` = the batch's
most active pixels) for each backend, interleaved rounds in one process, medians; then
the spike counts against the first backend's and the ``"parallel"`` backend's rounds
(its sequential depth) with the most spikes of any neuron.

    python -m benchmarks.bench_parallel_backend --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import snnjax
from snnjax.data import load_dataset
from snnjax.encoding import latency_encode
from snnjax.lif.backends import available_backends, parallel
from snnjax.lif.events import sort_events


def _layer_grad(backend, params, bound, cot):
    def loss(w, t):
        out = snnjax.lif_layer(
            t, w, params, max_spikes=30, t_max=0.2, max_input_events=bound, backend=backend
        )
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times * cot, 0.0)), out

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))


def _time(fns, args, repeats):
    samples = {name: [] for name in fns}
    for _ in range(repeats):  # interleaved: the machine's load hits every backend alike
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(*args))
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--backends", default=",".join(available_backends()))
    args = ap.parse_args(argv)
    images = load_dataset("mnist", "test", data_dir=args.data_dir).images[:50]
    t = latency_encode(images)
    bound = int(np.asarray(jnp.sum(jnp.isfinite(t), axis=(1, 2))).max())
    w = jax.random.uniform(jax.random.PRNGKey(0), (784, 800), minval=-1.0, maxval=1.0)
    params = snnjax.LIFParams(tau_syn=0.13, theta=0.2)
    cot = jax.random.normal(jax.random.PRNGKey(1), (50, 800, 30))
    fns = {b: _layer_grad(b, params, bound, cot) for b in args.backends.split(",")}
    outs = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        outs[name] = jax.block_until_ready(fn(w, t))[0][1]
        print(f"{name:>9}: compile + first call {time.perf_counter() - t0:.1f} s", flush=True)
    for name, sec in _time(fns, (w, t), args.repeats).items():
        print(f"{name:>9}: forward+backward median {1e3 * sec:.1f} ms ({args.repeats} rounds)")
    first = next(iter(outs.values()))
    for name, out in outs.items():
        same = np.array_equal(out.n_dropped, first.n_dropped)
        print(f"{name:>9}: spike counts equal to the first backend's: {same}")
    events, _ = sort_events(t, jnp.asarray(0.2), bound)
    p = jax.tree_util.tree_map(jnp.asarray, params)
    fwd, rounds = jax.jit(lambda e, w: parallel.forward_rounds(e, w, p, jnp.asarray(0.2), 30))(
        events, w
    )
    print(
        f"parallel: {int(rounds)} sequential rounds; most spikes of a neuron "
        f"{int(jnp.max(fwd.n_spikes))}; event slots E = {bound}"
    )


if __name__ == "__main__":
    main()
