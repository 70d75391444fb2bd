"""Weight bumping: revive output neurons that fall silent on the samples of their class.

A silent neuron gets no gradient (SPEC §4). Under the TTFS cross-entropy this can end a
run: once a label neuron no longer fires on its own class, the sample's loss is infinite
and nothing pulls the neuron back (the 30-epoch ``mnist_ttfs`` runs of
``docs/results.md`` collapsed that way). Fast & Deep (Göltz et al. 2021) "bump" the
incoming weights of silent neurons by a fixed amount instead of taking that batch's
gradient step. snnjax's variant (``ExperimentConfig.weight_bump``) bumps only the output
neurons that are silent on at least one sample **of their own class** in the batch (a
non-label neuron that stays silent is what the cross-entropy asks for), and skips the
optimizer step of that batch (parameters and optimizer state unchanged, the step counted
in ``weight_bump_steps``). Off by default: the update is then the exact gradient step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from snnjax import spikes

__all__ = ["bump_silent_label_weights", "label_silent_by_class", "with_weight_bump"]

# The batch statistic the bump reads (popped before the metrics leave the step).
SILENT_BY_CLASS = "label_silent_by_class"


def label_silent_by_class(times: jax.Array, labels: jax.Array) -> jax.Array:
    """Per class, on how many samples of that class its output neuron is silent.

    Args:
      times: ``[B, n_classes, K]`` output spike trains (s), ``inf`` = empty.
      labels: ``[B]`` int labels in ``[0, n_classes)``.

    Returns:
      ``[n_classes]`` float32 counts (a sum over the batch, so shards add up).
    """
    silent = spikes.label_silent(times, labels)  # [B]
    one_hot = jax.nn.one_hot(labels, times.shape[-2], dtype=jnp.float32)  # [B, C]
    return jnp.sum(jnp.where(silent[:, None], one_hot, 0.0), axis=0)


def bump_silent_label_weights(kernel: jax.Array, silent_by_class: jax.Array, bump: float):
    """Add ``bump`` to every incoming weight of the output neurons with a silent count > 0.

    Args:
      kernel: ``[n_in, n_classes]`` weights of the output layer.
      silent_by_class: ``[n_classes]`` counts from :func:`label_silent_by_class`.
      bump: the amount added to each weight of a bumped column (> 0).

    Returns:
      The bumped ``[n_in, n_classes]`` weights (unchanged columns where the count is 0).

    Example:
      >>> import jax.numpy as jnp
      >>> bump_silent_label_weights(jnp.zeros((2, 3)), jnp.array([0.0, 2.0, 0.0]), 0.5)
      Array([[0. , 0.5, 0. ],
             [0. , 0.5, 0. ]], dtype=float32)
    """
    columns = (silent_by_class > 0).astype(kernel.dtype)
    return kernel + jnp.asarray(bump, kernel.dtype) * columns


def with_weight_bump(update: Callable, bump: float, output_key: str) -> Callable:
    """Wrap a train step's ``update(state, grads, stats) -> (state, metrics)``: when an
    output neuron is silent on a sample of its class (``stats["label_silent_by_class"]``,
    from :func:`label_silent_by_class`), bump its weights and keep the parameters and
    optimizer state of before the update; ``metrics["weight_bump"]`` is 1.0 then.

    Args:
      update: the optimizer update of the step.
      bump: weight added per bump (> 0).
      output_key: the output layer's entry in the ``params`` collection (``"layers_N"``,
        holding ``"kernel" [n_in, n_classes]``).
    """

    def bumped_update(state: Any, grads, stats):
        stats = dict(stats)
        silent = stats.pop(SILENT_BY_CLASS)
        stepped, metrics = update(state, grads, stats)
        bumping = jnp.any(silent > 0)
        target, found = (output_key, "kernel"), []

        def bump_leaf(path, leaf):
            if tuple(getattr(k, "key", getattr(k, "name", k)) for k in path) != target:
                return leaf
            found.append(path)
            return bump_silent_label_weights(leaf, silent, bump)

        params = jax.tree_util.tree_map_with_path(bump_leaf, state.params)
        if not found:  # (at trace time) never bump nothing silently
            raise ValueError(f"weight_bump: the params have no {output_key}/kernel to bump")

        def keep(bumped, taken):
            return jax.tree.map(lambda b, t: jnp.where(bumping, b, t), bumped, taken)

        metrics = dict(metrics, weight_bump=bumping.astype(jnp.float32))
        return (
            stepped._replace(
                params=keep(params, stepped.params),
                opt_state=keep(state.opt_state, stepped.opt_state),
            ),
            metrics,
        )

    return bumped_update
