r"""Convergence: epochs to a target accuracy, and the toy convergence map (SPEC §6-7).

* :func:`epochs_to_accuracy` — first epoch at which an accuracy curve reaches a target
  (vectorised over seeds / runs).
* :func:`accuracy_curve` — an accuracy-versus-epoch curve from the rows of a run's
  ``metrics.jsonl``.
* :func:`toy_convergence_runs` / :func:`convergence_map` — the convergence experiment of
  Bacho & Chu (2023): a single layer of 2 LIF output neurons fed by 4 inputs is trained with
  plain gradient descent on two samples that differ only in the order of two input spikes,
  from many random weight initialisations ``w ~ N(mu, sigma)``; the map shows, per
  ``(mu, sigma)`` cell, how often training classifies both samples correctly.

The toy problem (the authors' ``experiments/convergence/convergence_{count,ttfs}.py``):

============  ==========================  =====
sample        input spike times (s)       label
============  ==========================  =====
A             ``t = (0, 0, 1, 2)``        0
B             ``t = (0, 0, 2, 1)``        1
============  ==========================  =====

Inputs 0 and 1 are reference spikes at ``t = 0`` in both samples (they act as learnable
biases); inputs 2 and 3 fire at ``t = 1`` and ``t = 2`` in sample A and in the opposite
order in sample B, so the two samples carry the same spikes and differ only in their order.
Neurons: ``tau_s = 1`` s (``tau_mem = 2`` s), ``theta = delta_theta = 1``, ``T_max = 10`` s.
Multi-spike: buffer 10, spike-count loss with targets 10 (label) / 0 (other),
``argmax``-count readout. TTFS: buffer 1, TTFS softmax cross-entropy with
``tau_L = 0.1`` s, ``argmin``-first-spike readout. Plain gradient descent on the loss
averaged over the two samples, ``lr = 0.1``, 50 steps.

Everything runs in one compiled program: ``vmap`` over the runs of all grid cells and
``lax.scan`` over the gradient steps. Because the network has no hidden layer and each
output neuron's spike train depends only on its own weight column, the runs are evaluated
either by ``jax.vmap`` over the per-run weights (``method="vmap"``) or, equivalently and
much faster on CPU, by stacking the weight columns of all runs side by side into one layer
of ``2 R`` output neurons (``method="fold"``): the loss is a sum of per-run losses, so its
gradient with respect to the ``[4, 2 R]`` kernel is exactly the per-run gradients side by
side. The tests check that both methods agree.

Difference from the authors' metric: their readout maps an all-silent output to class 0
(``argmax`` / ``argmin`` of equal values), so a silent network scores 50 % on the two
samples; snnjax counts silent outputs as wrong (SPEC §5), so a silent network scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.analysis._common import check_readout, predict
from snnjax.lif import LIFParams, lif_layer
from snnjax.readouts import get_readout
from snnjax.spikes import correct

__all__ = [
    "TOY_INPUT_TIMES",
    "TOY_LABELS",
    "TOY_GRID",
    "ConvergenceMap",
    "ToyProblem",
    "accuracy_curve",
    "convergence_map",
    "epochs_to_accuracy",
    "toy_convergence_runs",
    "toy_problem",
]

TOY_INPUT_TIMES = np.array([[[0.0], [0.0], [1.0], [2.0]], [[0.0], [0.0], [2.0], [1.0]]], np.float32)
"""``[2, 4, 1]`` input spike times (s) of the two toy samples (see the module docstring)."""

TOY_LABELS = np.array([0, 1], np.int32)
"""``[2]`` labels of the two toy samples."""

TOY_GRID = np.round(np.arange(13) * 0.2, 10)
"""``[13]`` the paper's grid of means and standard deviations, ``0, 0.2, ..., 2.4``."""


# ------------------------------------------------------------------ epochs to accuracy


def epochs_to_accuracy(curve, target, epochs=None) -> jax.Array:
    """First epoch at which an accuracy curve reaches ``target`` (``>=``); jit-friendly.

    Args:
      curve: ``[..., E]`` accuracies; ``curve[..., i]`` is the accuracy after epoch
        ``epochs[i]``. NaN entries (e.g. epochs without an evaluation) never count.
      target: accuracy to reach, same units as ``curve`` (fraction or percent).
      epochs: optional ``[E]`` epoch numbers; default ``1, 2, ..., E`` (the accuracy after
        the first epoch is at index 0).

    Returns:
      ``[...]`` float32: the epoch number, ``inf`` if the curve never reaches ``target``
      (so a mean over seeds that did not all converge is ``inf``, never a silent
      underestimate).

    Example:
      >>> float(epochs_to_accuracy([0.5, 0.8, 0.95, 0.9], 0.9))
      3.0
    """
    c = jnp.asarray(curve, jnp.float32)
    if c.ndim < 1 or c.shape[-1] == 0:
        raise ValueError(f"curve must have shape [..., E] with E >= 1, got {c.shape}")
    e = (
        jnp.arange(1, c.shape[-1] + 1, dtype=jnp.float32)
        if epochs is None
        else jnp.asarray(epochs, jnp.float32)
    )
    if e.shape != (c.shape[-1],):
        raise ValueError(f"epochs has shape {e.shape}, expected ({c.shape[-1]},)")
    reached = c >= target  # NaN compares False
    return jnp.where(reached.any(axis=-1), e[jnp.argmax(reached, axis=-1)], jnp.inf)


def accuracy_curve(
    rows: Sequence[Mapping[str, Any]], key: str = "validation_accuracy"
) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy-versus-epoch curve from the rows of a run's ``metrics.jsonl``.

    Args:
      rows: one mapping per epoch with an ``"epoch"`` entry and ``key``
        (e.g. ``[json.loads(line) for line in open(run_dir / "metrics.jsonl")]``).
      key: which accuracy (``"validation_accuracy"``, ``"test_accuracy"``,
        ``"train_accuracy"``); missing or ``None`` values become NaN.

    Returns:
      ``(epochs [E], accuracy [E])`` float arrays, sorted by epoch (a resumed run that
      logged an epoch twice keeps the last row).
    """
    by_epoch: dict[float, float] = {}
    for row in rows:
        value = row.get(key)
        by_epoch[float(row["epoch"])] = np.nan if value is None else float(value)
    epochs = np.array(sorted(by_epoch), dtype=np.float64)
    return epochs, np.array([by_epoch[e] for e in epochs], dtype=np.float64)


# ---------------------------------------------------------------------- toy problem


class ToyProblem(NamedTuple):
    """Settings of the toy convergence experiment for one readout (SPEC §6, last row).

    Attributes:
      readout: ``"count"`` (multi-spike) or ``"ttfs"``.
      max_spikes: output buffer (10 for count, 1 for TTFS).
      tau_syn, theta, t_max: neuron settings (1 s, 1, 10 s).
      lr, n_steps: plain gradient descent settings (0.1, 50).
      n_true, n_false: spike-count targets (count readout).
      tau_loss: TTFS softmax temperature (s).
    """

    readout: str
    max_spikes: int
    tau_syn: float = 1.0
    theta: float = 1.0
    t_max: float = 10.0
    lr: float = 0.1
    n_steps: int = 50
    n_true: float = 10.0
    n_false: float = 0.0
    tau_loss: float = 0.1


def toy_problem(readout: str, **overrides: Any) -> ToyProblem:
    """The paper's toy settings for ``readout`` (``"count"`` or ``"ttfs"``), with overrides.

    The output buffer is 1 slot for a first-spike readout
    (:attr:`snnjax.readouts.Readout.first_spike_only`, TTFS) and 10 slots otherwise.
    """
    first_only = get_readout(readout).first_spike_only
    return ToyProblem(readout=readout, max_spikes=1 if first_only else 10)._replace(**overrides)


def _toy_loss(times: jax.Array, problem: ToyProblem) -> jax.Array:
    """Per-sample loss ``[..., 2]`` of the toy outputs ``[..., 2, 2, K]``: the readout's loss
    with the problem's parameters (``n_true, n_false`` / ``tau_loss``; no regulariser)."""
    labels = jnp.broadcast_to(jnp.asarray(TOY_LABELS), times.shape[:-2])
    return get_readout(problem.readout).make_loss(problem)(times, labels)


def _toy_accuracy(times: jax.Array, readout: str) -> jax.Array:
    """Fraction of the two samples classified correctly, ``[..., 2, 2, K] -> [...]``."""
    pred, _ = predict(times, readout)
    return jnp.mean(correct(pred, jnp.asarray(TOY_LABELS)).astype(jnp.float32), axis=-1)


def _layer(x: jax.Array, w: jax.Array, problem: ToyProblem) -> jax.Array:
    params = LIFParams(tau_syn=problem.tau_syn, theta=problem.theta)
    return lif_layer(x, w, params, max_spikes=problem.max_spikes, t_max=problem.t_max).times


def _run_vmap(w0: jax.Array, problem: ToyProblem) -> jax.Array:
    """Accuracy curves ``[R, n_steps + 1]`` of runs started at ``w0 [R, 4, 2]`` (vmap)."""
    x = jnp.asarray(TOY_INPUT_TIMES, w0.dtype)

    def mean_loss(w):
        times = _layer(x, w, problem)
        loss = _toy_loss(times, problem)
        # A silent label gives a TTFS loss of +inf with a finite gradient; keep it out of
        # the arithmetic of the mean (its gradient is unaffected).
        return jnp.mean(jnp.where(jnp.isfinite(loss), loss, 0.0)), times

    def one_run(w):
        def step(w, _):
            (_, times), grad = jax.value_and_grad(mean_loss, has_aux=True)(w)
            return w - problem.lr * grad, _toy_accuracy(times, problem.readout)

        w_end, accs = jax.lax.scan(step, w, None, length=problem.n_steps)
        final = _toy_accuracy(_layer(x, w_end, problem), problem.readout)
        return jnp.concatenate([accs, final[None]])

    return jax.vmap(one_run)(w0)


def _run_fold(w0: jax.Array, problem: ToyProblem) -> jax.Array:
    """Same as :func:`_run_vmap`, with the runs folded into the output-neuron axis."""
    n_runs = w0.shape[0]
    x = jnp.asarray(TOY_INPUT_TIMES, w0.dtype)
    # [R, 4, 2] -> [4, R * 2]: column 2 r + j is output neuron j of run r.
    fold = lambda w: jnp.transpose(w, (1, 0, 2)).reshape(4, n_runs * 2)
    unfold = lambda t: jnp.moveaxis(t.reshape(2, n_runs, 2, -1), 1, 0)  # -> [R, 2, 2, K]

    def total_loss(wf):
        times = unfold(_layer(x, wf, problem))
        loss = _toy_loss(times, problem)  # [R, 2]
        loss = jnp.where(jnp.isfinite(loss), loss, 0.0)
        # Sum over runs of each run's mean loss: the gradient of column block r is run r's.
        return jnp.sum(jnp.mean(loss, axis=-1)), times

    def step(wf, _):
        (_, times), grad = jax.value_and_grad(total_loss, has_aux=True)(wf)
        return wf - problem.lr * grad, _toy_accuracy(times, problem.readout)

    w_end, accs = jax.lax.scan(step, fold(w0), None, length=problem.n_steps)  # [steps, R]
    final = _toy_accuracy(unfold(_layer(x, w_end, problem)), problem.readout)
    return jnp.concatenate([accs, final[None]]).T


@partial(jax.jit, static_argnums=(1, 2))
def _toy_runs(w0, problem: ToyProblem, method: str):
    return (_run_fold if method == "fold" else _run_vmap)(w0, problem)


def toy_convergence_runs(
    weights, readout: str = "count", *, method: str = "fold", **overrides: Any
) -> jax.Array:
    """Train the toy network from each initial weight matrix; return the accuracy curves.

    Args:
      weights: ``[R, 4, 2]`` float initial weights (``[n_in, n_out]`` per run).
      readout: ``"count"`` (multi-spike) or ``"ttfs"``; selects the paper's settings
        (:func:`toy_problem`).
      method: ``"fold"`` (runs folded into the neuron axis of one layer, fastest) or
        ``"vmap"`` (``jax.vmap`` over the runs); identical results.
      **overrides: fields of :class:`ToyProblem` (e.g. ``n_steps=10``, ``lr=0.05``).

    Returns:
      ``[R, n_steps + 1]`` float32: accuracy on the two samples (0, 0.5 or 1) before each
      gradient step, and after the last one (index ``n_steps``). Silent outputs count as
      wrong.
    """
    if method not in ("fold", "vmap"):
        raise ValueError(f"method must be 'fold' or 'vmap', got {method!r}")
    problem = toy_problem(readout, **overrides)
    w0 = jnp.asarray(weights)
    if w0.ndim != 3 or w0.shape[1:] != (4, 2):
        raise ValueError(f"weights must have shape [R, 4, 2], got {w0.shape}")
    if not jnp.issubdtype(w0.dtype, jnp.floating):
        w0 = w0.astype(jnp.float32)
    return _toy_runs(w0, problem, method)


class ConvergenceMap(NamedTuple):
    """Result of :func:`convergence_map`; arrays indexed ``[i_mean, i_std]``.

    Attributes:
      readout: ``"count"`` or ``"ttfs"``.
      means: ``[M]`` means of the initial weights.
      stds: ``[S]`` standard deviations of the initial weights.
      solved: ``[M, S]`` fraction of runs that classify both samples correctly at some
        point of training (before any step or after the last one) — the map's value.
      final: ``[M, S]`` fraction of runs that classify both samples correctly after the
        last step.
      best_accuracy: ``[M, S]`` mean over runs of the best accuracy during training (the
        authors' metric, except that silent outputs count as wrong here).
      initial: ``[M, S]`` fraction of runs that classify both samples correctly before
        training (what the initialisation alone achieves).
      n_runs: runs per cell.
    """

    readout: str
    means: np.ndarray
    stds: np.ndarray
    solved: np.ndarray
    final: np.ndarray
    best_accuracy: np.ndarray
    initial: np.ndarray
    n_runs: int


def convergence_map(
    readout: str = "count",
    *,
    means=TOY_GRID,
    stds=TOY_GRID,
    n_runs: int = 100,
    key: jax.Array | None = None,
    method: str = "fold",
    max_runs_per_call: int | None = None,
    **overrides: Any,
) -> ConvergenceMap:
    """The toy convergence map of Bacho & Chu (2023) (SPEC §6, last row).

    For every cell ``(mu, sigma)`` of the grid, ``n_runs`` initial weight matrices
    ``w ~ N(mu, sigma)`` (``[4, 2]``, i.i.d.) are trained with plain gradient descent on the
    two toy samples (module docstring); all runs of all cells are one batch of runs
    (:func:`toy_convergence_runs`), i.e. one compiled call (or a few, when
    ``max_runs_per_call`` splits it; the runs and their random draws do not depend on the
    split).

    Args:
      readout: ``"count"`` (buffer 10, count loss 10/0) or ``"ttfs"`` (buffer 1, TTFS
        cross-entropy ``tau_L = 0.1``).
      means: ``[M]`` means (default ``0, 0.2, ..., 2.4``).
      stds: ``[S]`` standard deviations (default ``0, 0.2, ..., 2.4``).
      n_runs: runs per cell (100 in the paper).
      key: ``jax.random`` key (default ``jax.random.key(0)``). Run ``r`` of every cell uses
        the same standard-normal draw ``eps_r``, scaled as ``mu + sigma * eps_r`` (common
        random numbers: neighbouring cells differ only by their ``(mu, sigma)``).
      method: ``"fold"`` or ``"vmap"`` (see :func:`toy_convergence_runs`).
      max_runs_per_call: optional bound on the runs evaluated per compiled call (memory).
      **overrides: fields of :class:`ToyProblem` (e.g. ``n_steps``).

    Returns:
      :class:`ConvergenceMap`.
    """
    check_readout(readout)
    means = np.asarray(means, np.float64).reshape(-1)
    stds = np.asarray(stds, np.float64).reshape(-1)
    if n_runs < 1:
        raise ValueError(f"n_runs must be >= 1, got {n_runs}")
    if (stds < 0).any():
        raise ValueError("stds must be >= 0")
    key = jax.random.key(0) if key is None else key
    eps = jax.random.normal(key, (n_runs, 4, 2), jnp.float32)
    mu = jnp.asarray(means, jnp.float32)[:, None, None, None, None]
    sd = jnp.asarray(stds, jnp.float32)[None, :, None, None, None]
    w0 = (mu + sd * eps[None, None]).reshape(-1, 4, 2)  # [M * S * R, 4, 2]
    total = w0.shape[0]
    chunk = total if max_runs_per_call is None else max(1, int(max_runs_per_call))
    n_calls = math.ceil(total / chunk)
    curves = []
    for i in range(n_calls):
        part = w0[i * chunk : (i + 1) * chunk]
        if part.shape[0] < chunk:  # pad to one compiled shape
            pad = jnp.broadcast_to(part[:1], (chunk - part.shape[0], 4, 2))
            part = jnp.concatenate([part, pad])
        curves.append(np.asarray(toy_convergence_runs(part, readout, method=method, **overrides)))
    acc = np.concatenate(curves)[:total].reshape(len(means), len(stds), n_runs, -1)
    perfect = acc >= 1.0
    return ConvergenceMap(
        readout=readout,
        means=means,
        stds=stds,
        solved=perfect.any(axis=-1).mean(axis=-1),
        final=perfect[..., -1].mean(axis=-1),
        best_accuracy=acc.max(axis=-1).mean(axis=-1),
        initial=perfect[..., 0].mean(axis=-1),
        n_runs=int(n_runs),
    )
