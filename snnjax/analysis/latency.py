r"""Latency: decision times and accuracy versus a decision deadline (SPEC §7).

Output trains are ``[..., n_classes, K]`` float spike times in seconds (sorted, ``+inf`` =
empty). **Truncating at a time** ``d`` keeps the spikes with ``t <= d`` and empties the
others (:func:`truncate_times`). Predictions are those of the readout
(:mod:`snnjax.readouts`): ``"count"`` = most spikes (ties: earliest first spike, then
lowest index), ``"ttfs"`` = earliest first spike (ties: lowest index); an all-silent output
predicts nothing (``-1``), which is never correct.

The **decision time** of a sample is the earliest time ``d`` such that the prediction made
from the outputs truncated at every ``d' >= d`` equals the final prediction (the one made
from the whole trains). Predictions only change at output spikes, so ``d`` is one of the
output spike times, and each readout brings its rule
(:attr:`snnjax.readouts.Readout.decision_time`):

* ``"ttfs"``: the first output spike of the network (the winner's first spike);
* ``"count"``: found by scanning the sorted union of all output spike times (spikes at
  equal times are added together). The count leader can change several times, so it is
  the time after which the leader never changes again — not the first spike.

If the final prediction is undefined (all outputs silent), the decision time is ``+inf``.
The decision time does not say whether the decision is *correct*: combine it with the
final prediction, or use :func:`accuracy_vs_deadline`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from snnjax.analysis._common import check_readout, predict
from snnjax.readouts import get_readout
from snnjax.spikes import correct

__all__ = ["accuracy_vs_deadline", "decision_time", "truncate_times"]


def _check(times) -> jax.Array:
    t = jnp.asarray(times)
    if t.ndim < 2 or not jnp.issubdtype(t.dtype, jnp.floating):
        raise ValueError(
            f"output_times must be a float array [..., n_classes, K], got {t.dtype}{t.shape}"
        )
    return t


def truncate_times(times, deadline) -> jax.Array:
    """Keep the spikes at or before ``deadline``; later slots become ``+inf``.

    Args:
      times: ``[..., n, K]`` float spike trains (s), sorted; ``+inf`` = empty.
      deadline: scalar or array broadcastable to ``times.shape[:-2]`` (s).

    Returns:
      ``[..., n, K]`` (still sorted: only a suffix of each train is emptied).
    """
    t = jnp.asarray(times)
    d = jnp.asarray(deadline, t.dtype)
    d = d.reshape(d.shape + (1, 1)) if d.ndim else d
    return jnp.where(t <= d, t, jnp.inf)


def decision_time(output_times, readout: str = "count") -> jax.Array:
    """Decision time of every sample (module docstring for the definition).

    Args:
      output_times: ``[..., n_classes, K]`` float output spike trains (s); ``+inf`` = empty.
      readout: a registered readout name (:mod:`snnjax.readouts`): ``"count"`` (argmax
        spike count), ``"ttfs"`` (argmin first spike), ...

    Returns:
      ``[...]`` float (s): an output spike time, or ``+inf`` where every output is silent.

    Example:
      >>> import jax.numpy as jnp
      >>> # class 0 leads from 0.1, is overtaken at 0.26 and wins the 3-3 tie again at 0.3
      >>> t = jnp.array([[0.1, 0.2, 0.3], [0.15, 0.25, 0.26]])
      >>> [round(float(decision_time(t, r)), 6) for r in ("count", "ttfs")]
      [0.3, 0.1]
    """
    t = _check(output_times)
    return _decision_time(t, check_readout(readout))


@partial(jax.jit, static_argnums=1)
def _decision_time(t: jax.Array, readout: str) -> jax.Array:
    return get_readout(readout).decision_time(t)


def accuracy_vs_deadline(output_times, labels, deadlines, readout: str = "count") -> jax.Array:
    """Accuracy when every output spike after the deadline is removed.

    Args:
      output_times: ``[B, n_classes, K]`` float output trains (s); ``+inf`` = empty.
      labels: ``[B]`` int labels.
      deadlines: ``[D]`` deadlines (s); ``+inf`` gives the final accuracy.
      readout: a registered readout name (``"count"``, ``"ttfs"``, ...).

    Returns:
      ``[D]`` float32 accuracies (silent truncated outputs count as wrong). Evaluated with
      ``lax.map`` over the deadlines (memory ``O(B n K)``, not ``O(D B n K)``).
    """
    t = _check(output_times)
    y = jnp.asarray(labels)
    if y.shape != t.shape[:-2]:
        raise ValueError(f"labels shape {y.shape} does not match output_times {t.shape}")
    d = jnp.asarray(deadlines, t.dtype).reshape(-1)
    return _accuracy_vs_deadline(t, y, d, check_readout(readout))


@partial(jax.jit, static_argnums=3)
def _accuracy_vs_deadline(t, y, deadlines, readout):
    def one(d):
        pred, _ = predict(truncate_times(t, d), readout)
        return jnp.mean(correct(pred, y).astype(jnp.float32))

    return jax.lax.map(one, deadlines)
