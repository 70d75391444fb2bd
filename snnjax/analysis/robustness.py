r"""Robustness to noise: accuracy under perturbations, all noise seeds in one ``vmap`` (SPEC §7).

Four perturbations, each a pure, jit-friendly function, and a sweep over noise levels:

* :func:`jitter_spike_times` — Gaussian jitter of spike times, ``t' = max(t + sigma eps, 0)``
  (seconds), trains re-sorted, empty slots stay empty (``kind="input_jitter"`` applies it to
  the network input, ``kind="hidden_jitter"`` to the trains passed between spiking layers,
  a hardware-like noise; the output layer's trains are not jittered);
* :func:`delete_spikes` — every spike is removed independently with probability ``p``
  (``kind="input_deletion"``);
* :func:`perturb_weights` — multiplicative Gaussian weight noise: every ``kernel`` leaf of
  the parameters becomes ``w (1 + sigma eps)`` (``kind="weight_noise"``).

:func:`robustness_sweep` evaluates a trained network on a data set for every noise level and
``n_seeds`` noise seeds. All seeds are evaluated by **one** compiled function (no Python loop
over seeds): ``jax.vmap`` of the per-seed evaluation over the seed keys (the default on
accelerators) or ``lax.map`` over them (the default on CPU, measured faster there); for input
and hidden noise ``seed_mode="fold"`` draws the noise with ``vmap`` and folds the seeds into
the network's batch axis, and ``seed_mode="map"`` runs ``lax.map`` over the seeds. The level
is a traced argument (no recompilation per level) and the data set is cut into chunks of
``batch_size`` samples, so that memory stays bounded. ``python_loop=True`` runs the very same
per-seed function in a Python loop over the seeds instead (the reference the tests compare
with, and the baseline of the benchmark).

Speed (``benchmarks/bench_robustness.py``, ``benchmarks/bench_vmap.py``;
``docs/performance.md``). The cost is the event kernel itself. Every event backend batches
under ``vmap``: the compiled CPU kernel folds the seeds (and samples) into its own batch and
takes one weight set per seed (:mod:`snnjax.lif.backends.ffi`), the pure-JAX kernel is
vectorised over them. The default ``seed_mode="auto"`` is nevertheless ``"map"``
(``lax.map`` over the seeds, one seed's activity at a time) on CPU, where it was measured
faster than one ``vmap`` call over all seeds (its working set stays in cache;
:data:`AUTO_SEED_MODE`), and ``"vmap"`` on accelerators, which want the large batch.

Random numbers. Seed ``s`` uses key ``k_s = jax.random.split(key, n_seeds)[s]``. Input and
hidden noise of sample ``i`` (its index in the data set) uses ``fold_in(k_s, i)``, so the
result does not depend on ``batch_size``; weight noise uses ``k_s`` (one noisy network per
seed, for the whole data set). The same draws ``eps`` are used at every level (common random
numbers: the level only scales them, and deletion at ``p`` removes a superset of the spikes
removed at ``p' < p``), so curves over levels are smooth and level 0 is exactly the clean
network.

Spike buffers and input-event bounds are those of the model: perturbations can make a
layer receive more events than its ``max_input_events`` bound; those events are counted in
:attr:`RobustnessResult.n_input_overflow` (nonzero means that accuracy is not trustworthy).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from snnjax.analysis._common import (
    as_apply_fn,
    check_readout,
    output_times,
    overflow_per_sample,
    predict,
)
from snnjax.lif import LayerOutput
from snnjax.nn.naming import spiking_layer_indices
from snnjax.spikes import correct

__all__ = [
    "KINDS",
    "AUTO_SEED_MODE",
    "SAMPLES_PER_CALL",
    "SEED_MODES",
    "RobustnessResult",
    "delete_spikes",
    "hidden_jitter_sweep",
    "input_deletion_sweep",
    "input_jitter_sweep",
    "jitter_spike_times",
    "noisy_outputs",
    "perturb_weights",
    "robustness_sweep",
    "weight_noise_sweep",
]

KINDS = ("input_jitter", "input_deletion", "weight_noise", "hidden_jitter")
"""The perturbations :func:`robustness_sweep` knows."""


# --------------------------------------------------------------------- perturbations


@jax.jit
def jitter_spike_times(times, sigma, key) -> jax.Array:
    """Gaussian jitter of spike times, clipped at 0, re-sorted.

    Args:
      times: ``[..., K]`` float spike trains (s), sorted; ``+inf`` = empty.
      sigma: standard deviation (s), scalar (traced).
      key: ``jax.random`` key; one standard-normal draw per slot.

    Returns:
      ``[..., K]``: ``sort(max(t + sigma * eps, 0))`` on finite slots, ``+inf`` elsewhere.
      ``sigma = 0`` returns ``times`` exactly.
    """
    t = jnp.asarray(times)
    eps = jax.random.normal(key, t.shape, t.dtype)
    finite = jnp.isfinite(t)
    moved = jnp.maximum(jnp.where(finite, t, 0.0) + jnp.asarray(sigma, t.dtype) * eps, 0.0)
    return jnp.sort(jnp.where(finite, moved, jnp.inf), axis=-1)


@jax.jit
def delete_spikes(times, p, key) -> jax.Array:
    """Remove every spike independently with probability ``p``; survivors stay sorted first.

    Args:
      times: ``[..., K]`` float spike trains (s), sorted; ``+inf`` = empty.
      p: deletion probability in ``[0, 1]``, scalar (traced).
      key: ``jax.random`` key; one uniform draw ``u`` per slot, deleted iff ``u < p``.

    Returns:
      ``[..., K]``, ``+inf`` where deleted; ``p = 0`` returns ``times`` exactly.
    """
    t = jnp.asarray(times)
    u = jax.random.uniform(key, t.shape, t.dtype)
    return jnp.sort(jnp.where(u < jnp.asarray(p, t.dtype), jnp.inf, t), axis=-1)


def _is_kernel(path) -> bool:
    last = path[-1] if path else None
    return getattr(last, "key", getattr(last, "name", None)) == "kernel"


def perturb_weights(params, sigma, key) -> Any:
    """Multiplicative Gaussian weight noise on every ``kernel`` leaf: ``w (1 + sigma eps)``.

    Args:
      params: parameter pytree (e.g. ``{"params": {"layers_0": {"kernel": ...}}}``); leaves
        whose last path entry is ``"kernel"`` are perturbed, others returned unchanged.
      sigma: relative standard deviation, scalar (traced).
      key: ``jax.random`` key; kernel number ``n`` (in tree-flatten order) uses
        ``fold_in(key, n)``.

    Returns:
      A pytree like ``params``; ``sigma = 0`` returns the weights exactly.

    Raises:
      ValueError: if ``params`` has no ``kernel`` leaf (nothing would be perturbed).
    """
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not any(_is_kernel(path) for path, _ in leaves):
        raise ValueError("perturb_weights: params has no 'kernel' leaf to perturb")
    out, n = [], 0
    for path, leaf in leaves:
        if _is_kernel(path):
            w = jnp.asarray(leaf)
            eps = jax.random.normal(jax.random.fold_in(key, n), w.shape, w.dtype)
            out.append(w * (1.0 + jnp.asarray(sigma, w.dtype) * eps))
            n += 1
        else:
            out.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, out)


# ----------------------------------------------------------------------- sweep core


class RobustnessResult(NamedTuple):
    """Accuracy under noise, per level (:func:`robustness_sweep`).

    Attributes:
      kind: the perturbation (one of :data:`KINDS`).
      levels: ``[L]`` noise levels (``sigma`` in s for jitter, ``p`` for deletion, relative
        ``sigma`` for weight noise).
      mean: ``[L]`` mean accuracy over the seeds.
      std: ``[L]`` standard deviation of the accuracy over the seeds (``ddof=0``).
      per_seed: ``[L, S]`` accuracy of every seed (fraction of the data set; silent outputs
        are wrong).
      n_input_overflow: ``[L, S]`` input events ignored by the layers (all samples and
        layers); nonzero means those accuracies are not trustworthy.
      n_samples: data-set size.
      readout: the readout's name (:mod:`snnjax.readouts`), e.g. ``"count"`` or ``"ttfs"``.
    """

    kind: str
    levels: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    per_seed: np.ndarray
    n_input_overflow: np.ndarray
    n_samples: int
    readout: str


class _Out(NamedTuple):
    times: jax.Array
    n_input_overflow: tuple[jax.Array, ...]


def _hidden_jitter_forward(module, x, sample_keys, sigma):
    """Method for ``model.apply``: the network with jittered trains between spiking layers."""
    spiking = spiking_layer_indices(module)
    overflow = []
    for i, layer in enumerate(module.layers):
        out = layer(x)
        if isinstance(out, LayerOutput):
            overflow.append(out.n_input_overflow)
            out = out.times
            if i != spiking[-1]:
                keys = jax.vmap(jax.random.fold_in, (0, None))(sample_keys, i)
                out = jax.vmap(jitter_spike_times, (0, None, 0))(out, sigma, keys)
        x = out
    return _Out(x, tuple(overflow))


def _is_network(model) -> bool:
    return isinstance(model, nn.Module) and hasattr(model, "layers")


def _noisy(kind: str, model, params, x, level, sample_keys, seed_key):
    """Outputs under noise; ``sample_keys [B]`` for input/hidden noise, ``seed_key`` for weights."""
    if kind == "weight_noise":
        return as_apply_fn(model)(perturb_weights(params, level, seed_key), x)
    if kind == "hidden_jitter":
        if not _is_network(model):
            raise TypeError("hidden_jitter needs the SpikingNetwork itself (not an apply function)")
        return model.apply(params, x, sample_keys, level, method=_hidden_jitter_forward)
    perturb = jitter_spike_times if kind == "input_jitter" else delete_spikes
    return as_apply_fn(model)(params, jax.vmap(perturb, (0, None, 0))(x, level, sample_keys))


def _sample_keys(seed_key, idx):
    return jax.vmap(jax.random.fold_in, (None, 0))(seed_key, idx)


def noisy_outputs(kind: str, model, params, input_times, level, seed_key, sample_index=None):
    """The network's outputs under one draw of the noise (what a sweep evaluates per seed).

    Args:
      kind: one of :data:`KINDS`.
      model: a Flax Linen network or an apply function (``hidden_jitter`` needs the
        :class:`snnjax.nn.SpikingNetwork`).
      params: its parameters.
      input_times: ``[B, *input_neurons, K_in]`` input trains.
      level: noise level (traced).
      seed_key: the seed's key (``jax.random.split(key, n_seeds)[s]`` in a sweep).
      sample_index: ``[B]`` int indices of the samples in the data set (their noise keys are
        ``fold_in(seed_key, index)``); default ``0 .. B-1``.

    Returns:
      What the apply function returns (a :class:`snnjax.nn.NetworkOutput` for a network;
      for ``hidden_jitter`` an object with ``times`` and ``n_input_overflow``).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x = jnp.asarray(input_times)
    idx = jnp.arange(x.shape[0]) if sample_index is None else jnp.asarray(sample_index)
    return _noisy(kind, model, params, x, level, _sample_keys(seed_key, idx), seed_key)


def _score(out, y, mask, readout: str):
    """``(n_correct, n_overflow)`` of a batch, padding samples (``mask`` False) excluded."""
    pred, _ = predict(output_times(out), readout)
    n_correct = jnp.sum(correct(pred, y) & mask, dtype=jnp.int32)
    overflow = jnp.sum(jnp.where(mask, overflow_per_sample(out, y.shape[0]), 0), dtype=jnp.int32)
    return n_correct, overflow


SEED_MODES = ("vmap", "fold", "map")
"""How :func:`robustness_sweep` evaluates the seeds inside its one compiled call."""

AUTO_SEED_MODE = {"cpu": "map"}
"""``seed_mode="auto"`` per JAX platform (``jax.default_backend()``); ``"vmap"`` elsewhere.
On CPU the kernel batches all seeds into one call under ``vmap``, but ``lax.map`` over the
seeds was measured faster on the 784-800-10 MNIST network (weight noise, 16 seeds:
1.5-2x; input jitter: 1.25x; ``docs/performance.md``, "Robustness sweep"): one seed at a time keeps
the working set (a noisy weight set, the activity of one batch) in cache, where ``vmap``
streams the weight sets and activity of every seed at once. Accelerators want the large
batch."""

SAMPLES_PER_CALL = {"vmap": 1024, "fold": 1024, "map": 256}
"""Default noisy samples per kernel call of each seed mode: the default ``batch_size`` is
this divided by the seeds evaluated together (all of them for ``"vmap"`` and ``"fold"``,
one for ``"map"``). ``"map"`` on CPU ran faster with larger
batches (0.77 s at 256 vs 1.17 s at 64 per seed, same sweep); 256 bounds its memory."""


def _jitted(kind: str, model, readout: str, mode: str):
    """Jitted ``f(params, x, y, mask, idx, level, keys) -> (correct [S], overflow [S])``
    (``mode="loop"``: one seed, ``keys`` is a single key and the outputs are scalars)."""

    def one_seed(params, x, y, mask, idx, level, seed_key):
        out = _noisy(kind, model, params, x, level, _sample_keys(seed_key, idx), seed_key)
        return _score(out, y, mask, readout)

    def folded(params, x, y, mask, idx, level, keys):
        n_seeds, batch = keys.shape[0], x.shape[0]
        sample_keys = jax.vmap(_sample_keys, (0, None))(keys, idx).reshape(n_seeds * batch)
        xs = jnp.broadcast_to(x, (n_seeds,) + x.shape).reshape((n_seeds * batch,) + x.shape[1:])
        out = _noisy(kind, model, params, xs, level, sample_keys, None)
        pred, _ = predict(output_times(out), readout)
        ok = correct(pred, jnp.tile(y, n_seeds)).reshape(n_seeds, batch) & mask
        over = overflow_per_sample(out, n_seeds * batch).reshape(n_seeds, batch)
        return (
            jnp.sum(ok, axis=1, dtype=jnp.int32),
            jnp.sum(jnp.where(mask, over, 0), axis=1, dtype=jnp.int32),
        )

    if mode == "loop":
        return jax.jit(one_seed)
    if mode == "vmap":
        return jax.jit(jax.vmap(one_seed, in_axes=(None,) * 6 + (0,)))
    if mode == "map":
        return jax.jit(lambda *a: jax.lax.map(lambda k: one_seed(*a[:6], k), a[6]))
    return jax.jit(folded)


_cached_jitted = functools.lru_cache(maxsize=32)(_jitted)


def _compiled(kind: str, model, readout: str, mode: str):
    """:func:`_jitted`, cached per model when the model is hashable (a second sweep of the
    same model does not recompile)."""
    try:
        return _cached_jitted(kind, model, readout, mode)
    except TypeError:  # unhashable apply function
        return _jitted(kind, model, readout, mode)


def _seed_keys(key, n_seeds: int) -> jax.Array:
    if isinstance(key, (int, np.integer)):
        key = jax.random.key(int(key))
    elif not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)  # legacy uint32 key
    return jax.random.split(key, n_seeds)


def robustness_sweep(
    kind: str,
    model,
    params,
    input_times,
    labels,
    levels,
    n_seeds: int,
    key,
    readout: str = "count",
    *,
    batch_size: int | None = None,
    seed_mode: str = "auto",
    python_loop: bool = False,
    progress: bool = False,
) -> RobustnessResult:
    """Accuracy of a trained network under noise, for every level and ``n_seeds`` seeds.

    Args:
      kind: ``"input_jitter"`` (levels = sigma in s), ``"input_deletion"`` (levels = p),
        ``"weight_noise"`` (levels = relative sigma) or ``"hidden_jitter"`` (sigma in s;
        needs ``model`` to be a :class:`snnjax.nn.SpikingNetwork`).
      model: a Flax Linen network (its ``apply`` is used) or an apply function
        ``apply(params, input_times [B, ..., K]) -> NetworkOutput | [B, n_classes, K]``.
      params: its parameters (weight noise perturbs every ``kernel`` leaf).
      input_times: ``[N, *input_neurons, K_in]`` float input spike trains of the data set
        (NumPy or JAX; sliced on the host).
      labels: ``[N]`` int labels.
      levels: ``[L]`` noise levels (``>= 0``; ``p <= 1``).
      n_seeds: number of noise seeds ``S``.
      key: ``jax.random`` key or int seed.
      readout: a registered readout name (:mod:`snnjax.readouts`): ``"count"``, ``"ttfs"``,
        ...
      batch_size: data-set samples per compiled call; default ``ceil(1024 / S)`` for
        ``"vmap"`` and ``"fold"``, 256 for ``"map"`` (:data:`SAMPLES_PER_CALL`; capped at
        ``N``). With ``seed_mode`` ``"vmap"`` or ``"fold"`` a call holds the activity of
        ``S x batch_size`` noisy samples at once (``"map"``: ``batch_size``). The result does
        not depend on it.
      seed_mode: how the one compiled call evaluates the ``S`` seeds:

        * ``"auto"`` (default): ``"map"`` on CPU, ``"vmap"`` elsewhere
          (:data:`AUTO_SEED_MODE`; see the module docstring);
        * ``"vmap"``: ``jax.vmap`` of the per-seed evaluation over the seed keys;
        * ``"fold"`` (input and hidden noise only): the noise is drawn with ``vmap`` over the
          seeds and the seeds are folded into the batch axis, so the network runs once on
          ``S x batch_size`` samples through its own batch dimension (what the kernels'
          batching rules do under ``vmap``);
        * ``"map"``: ``lax.map`` over the seeds (sequential inside the compiled call; least
          memory).

        All modes give the same noise draws; on the compiled CPU kernel they give identical
        accuracies (tested). The pure-JAX kernel under ``vmap`` rounds differently (spike
        times differ by float32 rounding, rarely enough to flip a prediction).
      python_loop: evaluate the seeds in a Python loop over the same jitted per-seed
        function (reference for tests, baseline for benchmarks); ``seed_mode`` is ignored.
      progress: show a progress bar (``tqdm``) over the compiled calls (chunks x levels).

    A level of 0 adds no noise, so it is evaluated once (first seed) and copied to every seed.

    Returns:
      :class:`RobustnessResult`.
    """
    x, y, lv, n_seeds, seed_mode = _check_sweep(
        kind, model, readout, input_times, labels, levels, n_seeds, seed_mode, python_loop
    )
    n = x.shape[0]
    bsz = min(n, int(batch_size) if batch_size else _default_batch_size(seed_mode, n_seeds))
    keys = _seed_keys(key, n_seeds)

    single = _compiled(kind, model, readout, "loop")
    if python_loop:
        run = lambda *a: tuple(
            jnp.stack(v) for v in zip(*(single(*a, k) for k in keys), strict=True)
        )
    else:
        compiled = _compiled(kind, model, readout, seed_mode)
        run = lambda *a: compiled(*a, keys)
    # Level 0 adds no noise (t + 0 eps, u < 0, w (1 + 0 eps) are exact), so every seed gives
    # the clean result: evaluate it once and copy it to all seeds.
    run_clean = lambda *a: tuple(
        jnp.broadcast_to(v, (n_seeds, *jnp.shape(v))) for v in single(*a, keys[0])
    )
    n_correct, overflow = _sweep_chunks(
        run,
        run_clean,
        params,
        x,
        y,
        lv,
        n_seeds,
        bsz,
        f"{kind} x {n_seeds} seeds" if progress else None,
    )
    per_seed = n_correct / n
    return RobustnessResult(
        kind=kind,
        levels=lv,
        mean=per_seed.mean(axis=1),
        std=per_seed.std(axis=1),
        per_seed=per_seed,
        n_input_overflow=overflow,
        n_samples=int(n),
        readout=readout,
    )


def _default_batch_size(seed_mode: str, n_seeds: int) -> int:
    """Data-set samples per compiled call when the caller gives none (see
    :data:`SAMPLES_PER_CALL`)."""
    together = 1 if seed_mode == "map" else n_seeds
    return math.ceil(SAMPLES_PER_CALL[seed_mode] / together)


def _check_sweep(
    kind, model, readout, input_times, labels, levels, n_seeds, seed_mode, python_loop
):
    """Validated arguments of :func:`robustness_sweep`: ``(x, y, levels, n_seeds,
    seed_mode)`` as NumPy arrays / ints, ``seed_mode`` resolved (``"auto"`` -> a mode)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_readout(readout)
    as_apply_fn(model)
    if kind == "hidden_jitter" and not _is_network(model):
        raise TypeError("hidden_jitter needs the SpikingNetwork itself (not an apply function)")
    if seed_mode not in (*SEED_MODES, "auto"):
        raise ValueError(f"seed_mode must be 'auto' or one of {SEED_MODES}, got {seed_mode!r}")
    if seed_mode == "auto":
        seed_mode = AUTO_SEED_MODE.get(jax.default_backend(), "vmap")
    if seed_mode == "fold" and kind == "weight_noise" and not python_loop:
        raise ValueError(
            "seed_mode='fold' needs the same weights for all seeds; use 'vmap' "
            "or 'map' for weight noise"
        )
    x = np.asarray(input_times)
    y = np.asarray(labels)
    if x.ndim < 3 or y.shape != x.shape[:1]:
        raise ValueError(
            f"expected input_times [N, ..., K] and labels [N], got {x.shape} and {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integers, got {y.dtype}")
    lv = np.asarray(levels, np.float64).reshape(-1)
    if not np.isfinite(lv).all() or (lv < 0).any():
        raise ValueError(f"levels must be finite and >= 0, got {lv}")
    if kind == "input_deletion" and (lv > 1).any():
        raise ValueError(f"deletion probabilities must lie in [0, 1], got {lv}")
    n_seeds = int(n_seeds)
    if n_seeds < 1:
        raise ValueError(f"n_seeds must be >= 1, got {n_seeds}")
    if x.shape[0] == 0:
        raise ValueError("empty data set")
    return x, y, lv, n_seeds, seed_mode


def _sweep_chunks(
    run, run_clean, params, x, y, lv, n_seeds: int, bsz: int, progress: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(n_correct [L, S], overflow [L, S])`` summed over chunks of ``bsz`` samples (the
    last chunk padded with copies of its first sample, masked out); ``progress``: the
    description of a ``tqdm`` bar, or ``None``."""
    n = x.shape[0]
    n_correct = np.zeros((lv.size, n_seeds), np.int64)
    overflow = np.zeros((lv.size, n_seeds), np.int64)
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    bar = None
    if progress is not None:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=math.ceil(n / bsz) * lv.size, unit="call", desc=progress, dynamic_ncols=True
        )
    for start in range(0, n, bsz):
        stop = min(start + bsz, n)
        idx = np.arange(start, start + bsz)
        mask = idx < stop
        idx = np.where(mask, idx, start)  # pad with copies of the chunk's first sample
        xb, yb = jnp.asarray(x[idx], dtype), jnp.asarray(y[idx], jnp.int32)
        for li, level in enumerate(lv):
            c, o = (run_clean if level == 0 else run)(
                params,
                xb,
                yb,
                jnp.asarray(mask),
                jnp.asarray(idx, jnp.int32),
                jnp.asarray(level, dtype),
            )
            n_correct[li] += np.asarray(c)
            overflow[li] += np.asarray(o)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return n_correct, overflow


def input_jitter_sweep(
    model,
    params,
    input_times,
    labels,
    sigmas: Sequence[float],
    n_seeds: int,
    key,
    readout: str = "count",
    **kw,
) -> RobustnessResult:
    """:func:`robustness_sweep` with ``kind="input_jitter"`` (``sigmas`` in seconds)."""
    return robustness_sweep(
        "input_jitter", model, params, input_times, labels, sigmas, n_seeds, key, readout, **kw
    )


def input_deletion_sweep(
    model,
    params,
    input_times,
    labels,
    probabilities: Sequence[float],
    n_seeds: int,
    key,
    readout: str = "count",
    **kw,
) -> RobustnessResult:
    """:func:`robustness_sweep` with ``kind="input_deletion"``."""
    return robustness_sweep(
        "input_deletion",
        model,
        params,
        input_times,
        labels,
        probabilities,
        n_seeds,
        key,
        readout,
        **kw,
    )


def weight_noise_sweep(
    model,
    params,
    input_times,
    labels,
    sigmas: Sequence[float],
    n_seeds: int,
    key,
    readout: str = "count",
    **kw,
) -> RobustnessResult:
    """:func:`robustness_sweep` with ``kind="weight_noise"`` (relative ``sigmas``)."""
    return robustness_sweep(
        "weight_noise", model, params, input_times, labels, sigmas, n_seeds, key, readout, **kw
    )


def hidden_jitter_sweep(
    model,
    params,
    input_times,
    labels,
    sigmas: Sequence[float],
    n_seeds: int,
    key,
    readout: str = "count",
    **kw,
) -> RobustnessResult:
    """:func:`robustness_sweep` with ``kind="hidden_jitter"`` (``sigmas`` in seconds)."""
    return robustness_sweep(
        "hidden_jitter", model, params, input_times, labels, sigmas, n_seeds, key, readout, **kw
    )
