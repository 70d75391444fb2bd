"""The built-in readouts (``count``, ``ttfs``, ``count_ce``) and their decision-time rules.

Imported on first use of the registry (:mod:`snnjax.readouts`); see there for what each
readout does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from snnjax.losses import (
    count_cross_entropy,
    predict_from_counts,
    predict_from_first_spike,
    spike_count_loss,
    ttfs_cross_entropy,
)
from snnjax.readouts import Readout, register_readout
from snnjax.spikes import first_spike_times

__all__ = ["count_decision_time", "first_spike_decision_time"]


def first_spike_decision_time(times: jax.Array) -> jax.Array:
    """Decision time of the first-spike readout: the network's first output spike.

    Args:
      times: ``[..., n_classes, K]`` float output trains (s), sorted; ``+inf`` = empty.

    Returns:
      ``[...]`` float (s); ``+inf`` where every output is silent (NaN entries are no spike).
    """
    first = first_spike_times(times)
    return jnp.min(jnp.where(jnp.isfinite(first), first, jnp.inf), axis=-1)


def count_decision_time(times: jax.Array) -> jax.Array:
    """Decision time of the spike-count readout (:func:`snnjax.losses.predict_from_counts`).

    Scans the sorted union of all output spike times (spikes at equal times enter
    together): the count leader can change several times, so the decision time is the
    output spike after which the leader never changes again — not the first spike.

    Args:
      times: ``[..., n_classes, K]`` float output trains (s), sorted; ``+inf`` = empty.

    Returns:
      ``[...]`` float (s); ``+inf`` where every output is silent.
    """
    t = jnp.asarray(times)
    t = jnp.where(jnp.isfinite(t), t, jnp.inf)  # NaN is no spike (as in the predictions)
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
    first = jnp.min(flat.reshape((-1, n, k)), axis=-1)  # [B, n], as predict_from_counts
    best = jnp.max(counts, axis=-1, keepdims=True)
    # Neurons tied at the (>= 1) top count have spiked, so their untruncated first spike
    # is their truncated one: the tie-break of predict_from_counts.
    key = jnp.where(counts == best, first[:, None, :], jnp.inf)
    pred = jnp.where(best[..., 0] == 0, -1, jnp.argmin(key, axis=-1))  # [B, M]
    final, silent = predict_from_counts(flat.reshape((-1, n, k)))
    ok = (pred == final[:, None]) | ~finite
    idx = jnp.arange(n * k)
    last_bad = jnp.max(jnp.where(ok, -1, idx), axis=-1)
    when = jnp.take_along_axis(s, jnp.clip(last_bad + 1, 0, n * k - 1)[:, None], axis=1)[:, 0]
    return jnp.where(silent, jnp.inf, when).reshape(lead)


# ------------------------------------------------------------------------- registration

register_readout(
    Readout(
        name="count",
        label="multi-spike (count loss)",
        rule="argmax spike count",
        loss=spike_count_loss,
        loss_params=("n_true", "n_false"),
        predict=predict_from_counts,
        decision_time=count_decision_time,
    )
)

register_readout(
    Readout(
        name="ttfs",
        label="single-spike (TTFS cross-entropy)",
        rule="argmin first spike",
        loss=ttfs_cross_entropy,
        loss_params=("tau_loss", "alpha", "beta", "tau_syn"),
        predict=predict_from_first_spike,
        decision_time=first_spike_decision_time,
        first_spike_only=True,
    )
)

register_readout(
    Readout(
        name="count_ce",
        label="multi-spike (count cross-entropy)",
        rule="argmax spike count",
        loss=count_cross_entropy,
        loss_params=(("temperature", "count_temperature"),),
        predict=predict_from_counts,
        decision_time=count_decision_time,
    )
)
