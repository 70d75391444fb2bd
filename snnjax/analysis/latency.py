r"""Latency: decision times and accuracy versus a decision deadline (SPEC §7).

Output trains are ``[..., n_classes, K]`` float spike times in seconds (sorted, ``+inf`` =
empty). **Truncating at a time** ``d`` keeps the spikes with ``t <= d`` and empties the
others (:func:`truncate_times`). Predictions are those of :mod:`snnjax.losses`:
``"count"`` = most spikes (ties: earliest first spike, then lowest index), ``"ttfs"`` =
earliest first spike (ties: lowest index); an all-silent output predicts nothing
(``-1``), which is never correct.

The **decision time** of a sample is the earliest time ``d`` such that the prediction made
from the outputs truncated at every ``d' >= d`` equals the final prediction (the one made
from the whole trains). Predictions only change at output spikes, so ``d`` is one of the
output spike times:

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

__all__ = ["accuracy_vs_deadline", "decision_time", "truncate_times"]


def _check(times) -> jax.Array:
    t = jnp.asarray(times)
    if t.ndim < 2 or not jnp.issubdtype(t.dtype, jnp.floating):
        raise ValueError(f"output_times must be a float array [..., n_classes, K], got "
                         f"{t.dtype}{t.shape}")
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
      readout: ``"count"`` (argmax spike count) or ``"ttfs"`` (argmin first spike).

    Returns:
      ``[...]`` float (s): an output spike time, or ``+inf`` where every output is silent.

    Example:
      >>> import jax.numpy as jnp
      >>> t = jnp.array([[0.1, 0.2, 0.3],      # class 0 leads from 0.1, is overtaken at
      ...                [0.15, 0.25, 0.26]])  # 0.26 and wins the 3-3 tie again at 0.3
      >>> [round(float(decision_time(t, r)), 6) for r in ("count", "ttfs")]
      [0.3, 0.1]
    """
    t = _check(output_times)
    return _decision_time(t, check_readout(readout))


@partial(jax.jit, static_argnums=1)
def _decision_time(t: jax.Array, readout: str) -> jax.Array:
    if readout == "ttfs":
        return jnp.min(t[..., 0], axis=-1)
    lead = t.shape[:-2]
    n, k = t.shape[-2:]
    flat = t.reshape((-1, n * k))  # [B, M]
    cls = jnp.repeat(jnp.arange(n), k)  # class of each slot
    order = jnp.argsort(flat, axis=-1, stable=True)
    s = jnp.take_along_axis(flat, order, axis=-1)  # sorted candidate times [B, M]
    c = cls[order]
    finite = jnp.isfinite(s)
    onehot = jax.nn.one_hot(c, n, dtype=jnp.int32) * finite[..., None].astype(jnp.int32)
    cum = jnp.cumsum(onehot, axis=1)  # counts after including sorted spike j, [B, M, n]
    # Equal times enter together: use the counts at the last spike with the same time.
    end = jax.vmap(lambda row: jnp.searchsorted(row, row, side="right") - 1)(s)
    counts = jnp.take_along_axis(cum, end[..., None], axis=1)
    first = flat.reshape((-1, n, k))[..., 0]  # [B, n]
    best = jnp.max(counts, axis=-1, keepdims=True)
    # Neurons tied at the (>= 1) top count have spiked, so their untruncated first spike
    # is their truncated one: the tie-break of predict_from_counts.
    key = jnp.where(counts == best, first[:, None, :], jnp.inf)
    pred = jnp.where(best[..., 0] == 0, -1, jnp.argmin(key, axis=-1))  # [B, M]
    final, silent = predict(flat.reshape((-1, n, k)), "count")
    ok = (pred == final[:, None]) | ~finite
    idx = jnp.arange(n * k)
    last_bad = jnp.max(jnp.where(ok, -1, idx), axis=-1)
    when = jnp.take_along_axis(s, jnp.clip(last_bad + 1, 0, n * k - 1)[:, None], axis=1)[:, 0]
    return jnp.where(silent, jnp.inf, when).reshape(lead)


def accuracy_vs_deadline(output_times, labels, deadlines, readout: str = "count"
                         ) -> jax.Array:
    """Accuracy when every output spike after the deadline is removed.

    Args:
      output_times: ``[B, n_classes, K]`` float output trains (s); ``+inf`` = empty.
      labels: ``[B]`` int labels.
      deadlines: ``[D]`` deadlines (s); ``+inf`` gives the final accuracy.
      readout: ``"count"`` or ``"ttfs"``.

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
        return jnp.mean(((pred == y) & (pred >= 0)).astype(jnp.float32))

    return jax.lax.map(one, deadlines)
