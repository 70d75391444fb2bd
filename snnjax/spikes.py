r"""Spike-train conventions, in one place: validation, counts, first spikes, silence, correctness.

A **spike train** array has shape ``[..., n, K]``: ``n`` neurons with ``K`` slots each,
float spike times in seconds, **sorted ascending** along the last axis, ``+inf`` = empty
slot (the empty slots come last). A neuron is **silent** when all its slots are empty;
an output layer is silent for a sample when all its neurons are. Predictions are int
class indices with ``-1`` meaning "no prediction" (all outputs silent), which is never
correct.

Everything here is a small pure function of arrays (jit-friendly unless it says it checks
concrete values), imported by :mod:`snnjax.losses`, :mod:`snnjax.train`,
:mod:`snnjax.analysis` and the reports. This module imports only JAX and NumPy, so the
event core may use it too.

Example:
  >>> import jax.numpy as jnp
  >>> from snnjax import spikes
  >>> t = jnp.array([[[0.01, 0.02], [jnp.inf, jnp.inf]]])  # [B=1, n=2, K=2]
  >>> spikes.spike_counts(t).tolist(), spikes.all_silent(t).tolist()
  ([[2, 0]], [False])
  >>> spikes.correct(jnp.array([1, -1, 0]), jnp.array([1, 0, 0])).tolist()
  [True, False, True]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "all_silent",
    "as_spike_trains",
    "check_spike_times",
    "checkify_spike_times",
    "correct",
    "first_spike_times",
    "is_concrete",
    "label_silent",
    "spike_counts",
    "spikes_per_sample",
    "validate_spike_trains",
]


# ------------------------------------------------------------------------- validation


def is_concrete(x) -> bool:
    """True unless ``x`` is a JAX tracer (i.e. its values are known: outside ``jit``)."""
    return not isinstance(x, jax.core.Tracer)


def check_spike_times(times, name: str = "times") -> None:
    """Raise ``ValueError`` if concrete spike trains hold malformed values; no-op for tracers.

    Checks: no NaN, no negative time, each train sorted ascending along the last axis
    (``+inf`` padding last). Inside ``jit`` use :func:`checkify_spike_times` with
    ``jax.experimental.checkify``.

    Args:
      times: ``[..., K]`` float spike trains (s).
      name: what to call the array in the message (e.g. ``"input_times"``).
    """
    if not is_concrete(times):
        return
    arr = np.asarray(times)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN; use +inf for an empty slot")
    if (arr < 0).any():
        raise ValueError(f"{name} contains negative spike times (min {arr.min()})")
    if arr.ndim and arr.shape[-1] > 1 and (arr[..., 1:] < arr[..., :-1]).any():
        raise ValueError(
            f"{name} must be sorted ascending along the last axis "
            "(spike slots of one neuron, +inf padding last)"
        )


def checkify_spike_times(times, name: str = "times") -> None:
    """Traced version of :func:`check_spike_times` for ``jax.experimental.checkify``.

    Example:
      >>> from jax.experimental import checkify
      >>> def f(t):
      ...     checkify_spike_times(t)
      ...     return t
      >>> err, _ = checkify.checkify(jax.jit(f))(jnp.array([[[-1.0]]]))
      >>> err.get() is not None
      True
    """
    from jax.experimental import checkify

    checkify.check(~jnp.any(jnp.isnan(times)), f"{name} contains NaN")
    checkify.check(~jnp.any(times < 0), f"{name} contains negative spike times")
    if times.shape[-1] > 1:
        checkify.check(~jnp.any(times[..., 1:] < times[..., :-1]), f"{name} is not sorted")


def as_spike_trains(times, name: str = "times") -> jax.Array:
    """``times`` as a JAX array of shape ``[..., n, K]`` (at least 2-D); shape check only.

    Raises:
      ValueError: fewer than 2 dimensions.
    """
    t = jnp.asarray(times)
    if t.ndim < 2:
        raise ValueError(f"{name} must have shape [..., n, K], got {t.shape}")
    return t


def validate_spike_trains(times, name: str = "times") -> jax.Array:
    """Full validation of spike trains: shape, float dtype, non-empty, and (concrete) values.

    Args:
      times: ``[..., n, K]`` spike trains with ``n >= 1`` and ``K >= 1``.
      name: what to call the array in messages.

    Returns:
      ``times`` as a JAX array.

    Raises:
      ValueError: bad shape or dtype; NaN, negative or unsorted values (outside ``jit``).
    """
    t = as_spike_trains(times, name)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        raise ValueError(f"{name} must be floating point, got dtype {t.dtype}")
    if t.shape[-1] < 1 or t.shape[-2] < 1:
        raise ValueError(f"{name} needs at least one neuron and one slot, got {t.shape}")
    check_spike_times(times, name)
    return t


# ------------------------------------------------------------------------- statistics


def spike_counts(times) -> jax.Array:
    """Number of spikes per neuron.

    Args:
      times: ``[..., n, K]`` float spike times; ``+inf`` = empty slot.

    Returns:
      ``[..., n]`` int32: number of finite entries along the last axis.
    """
    t = as_spike_trains(times)
    return jnp.sum(jnp.isfinite(t), axis=-1, dtype=jnp.int32)


def first_spike_times(times) -> jax.Array:
    """First spike time of each neuron, ``times[..., 0]`` (the trains are sorted).

    Args:
      times: ``[..., n, K]`` float spike times, sorted along the last axis; ``+inf`` =
        empty slot.

    Returns:
      ``[..., n]`` float; ``+inf`` for a silent neuron. Differentiable (the gradient
      flows into slot 0 only).
    """
    return as_spike_trains(times)[..., 0]


def spikes_per_sample(times) -> jax.Array:
    """Spikes per sample of one layer (all its neurons and slots).

    Args:
      times: ``[B, *neurons, K]`` float spike trains; ``+inf`` = empty.

    Returns:
      ``[B]`` int32: finite entries per sample.
    """
    t = jnp.asarray(times)
    if t.ndim < 2:
        raise ValueError(f"times must have shape [B, ..., K], got {t.shape}")
    return jnp.sum(jnp.isfinite(t).reshape(t.shape[0], -1), axis=1, dtype=jnp.int32)


def all_silent(times) -> jax.Array:
    """Whether every neuron is silent (no prediction can be made from these outputs).

    Args:
      times: ``[..., n, K]`` float output spike trains; ``+inf`` = empty.

    Returns:
      ``[...]`` bool. A non-finite entry (``+inf``, and also NaN or ``-inf``) is no spike,
      as in :func:`spike_counts`.
    """
    return jnp.all(~jnp.isfinite(first_spike_times(times)), axis=-1)


def label_silent(times, labels) -> jax.Array:
    """Whether the label neuron of each sample is silent.

    Args:
      times: ``[..., n_classes, K]`` float output spike trains; ``+inf`` = empty.
      labels: ``[...]`` int labels in ``[0, n_classes)``.

    Returns:
      ``[...]`` bool.
    """
    first = first_spike_times(times)
    y = jnp.asarray(labels).astype(jnp.int32)[..., None]
    return ~jnp.isfinite(jnp.take_along_axis(first, y, axis=-1)[..., 0])


def correct(pred, labels) -> jax.Array:
    """Which predictions are correct: ``pred == labels`` and ``pred >= 0``.

    A prediction of ``-1`` (all outputs silent) is never correct, whatever the label.

    Args:
      pred: ``[...]`` int predictions (``-1`` = no prediction).
      labels: ``[...]`` int labels (broadcastable against ``pred``).

    Returns:
      ``[...]`` bool (a NumPy array for NumPy inputs, else a JAX array).
    """
    return (pred == labels) & (pred >= 0)
