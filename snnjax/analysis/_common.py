"""Helpers shared by the analysis modules (not public API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from snnjax.readouts import get_readout


def check_readout(readout: str) -> str:
    """Return ``readout`` if it names a registered readout (:func:`snnjax.readouts.get_readout`);
    raise ``ValueError`` listing the registered names otherwise."""
    return get_readout(readout).name


def predict(times: jax.Array, readout: str) -> tuple[jax.Array, jax.Array]:
    """``(pred, silent)`` of the readout: ``pred [...]`` int32 (``-1`` when all silent)."""
    return get_readout(readout).predict(times)


def output_times(out: Any) -> jax.Array:
    """The output trains of whatever an apply function returned.

    Accepts a :class:`snnjax.nn.NetworkOutput` or :class:`snnjax.LayerOutput` (anything with a
    ``times`` attribute) or a bare ``[B, n_classes, K]`` array.
    """
    return out.times if hasattr(out, "times") else out


def as_apply_fn(model_or_apply: Any) -> Callable[..., Any]:
    """``apply(params, input_times)`` from a Linen module (``module.apply``) or a callable."""
    if isinstance(model_or_apply, nn.Module):
        return model_or_apply.apply
    if not callable(model_or_apply):
        raise TypeError(
            "expected a flax.linen Module or an apply function "
            f"apply(params, input_times), got {type(model_or_apply).__name__}"
        )
    return model_or_apply


def overflow_per_sample(out: Any, batch: int) -> jax.Array:
    """``[batch]`` int32: input events ignored (``max_input_events`` too small), all layers.

    Reads ``out.n_input_overflow`` (a tuple of ``[B]`` arrays for a
    :class:`snnjax.nn.NetworkOutput`, one ``[B]`` array for a :class:`snnjax.LayerOutput`);
    zeros when ``out`` carries no such field. Nonzero means the spike times are wrong.
    """
    counts = getattr(out, "n_input_overflow", ())
    if not isinstance(counts, (tuple, list)):
        counts = (counts,)
    total = jnp.zeros((batch,), jnp.int32)
    for c in counts:
        total = total + jnp.sum(jnp.reshape(c, (batch, -1)), axis=1, dtype=jnp.int32)
    return total
