r"""The readout registry: how output spike trains become a loss, a prediction and a decision time.

A :class:`Readout` bundles, under one name, everything that depends on how a network's
output layer is read (SPEC §5, §7):

* the per-sample **loss** and the config fields it takes (:meth:`Readout.make_loss`);
* the **prediction** ``predict(times) -> (pred, silent)`` (``pred == -1`` when every output
  is silent);
* the **decision time** rule used by :mod:`snnjax.analysis.latency`;
* a human **label** for reports and the **rule** recorded in a run's ``run.json``.

Config validation (:mod:`snnjax.configs`, field ``loss``), training
(:func:`snnjax.train.make_loss_fn`), analysis and the reports all look readouts up here with
:func:`get_readout`; an unknown name is a ``ValueError`` that lists the registered names.

Registered readouts:

* ``"count"`` — multi-spike networks: :func:`snnjax.losses.spike_count_loss` (config fields
  ``n_true``, ``n_false``); predicts the class with the most output spikes (ties: earliest
  first spike, then lowest index); decision time :func:`count_decision_time`.
* ``"ttfs"`` — single-spike (TTFS) networks: :func:`snnjax.losses.ttfs_cross_entropy`
  (``tau_loss``, ``alpha``, ``beta``, ``tau_syn``); predicts the class whose neuron spikes
  first (ties: lowest index); decision time :func:`first_spike_decision_time`.
* ``"count_ce"`` — multi-spike networks, snnjax's extension (not in the paper):
  :func:`snnjax.losses.count_cross_entropy` (config field ``count_temperature``); predicts
  and decides like ``"count"``.

Adding a readout is one :func:`register_readout` call (see ``docs/extending.md``).

Example:
  >>> import jax.numpy as jnp
  >>> from snnjax.readouts import get_readout
  >>> r = get_readout("count")
  >>> r.label, r.rule
  ('multi-spike (count loss)', 'argmax spike count')
  >>> t = jnp.array([[[0.01, 0.02], [0.005, jnp.inf]]])  # [B=1, n_classes=2, K=2]
  >>> [x.tolist() for x in r.predict(t)]
  [[0], [False]]
  >>> get_readout("ttfs").predict(t)[0].tolist()
  [1]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp

from snnjax.losses import (
    count_cross_entropy,
    predict_from_counts,
    predict_from_first_spike,
    spike_count_loss,
    ttfs_cross_entropy,
)
from snnjax.spikes import first_spike_times

__all__ = [
    "Readout",
    "count_decision_time",
    "first_spike_decision_time",
    "get_readout",
    "readout_names",
    "register_readout",
    "registered_readouts",
]

LossFn = Callable[[jax.Array, jax.Array], jax.Array]
"""``loss(times [..., n_classes, K], labels [...]) -> [...]`` per-sample loss."""


@dataclasses.dataclass(frozen=True)
class Readout:
    """One way of reading a network's output spike trains.

    Attributes:
      name: registry key, the value of :attr:`snnjax.configs.ExperimentConfig.loss`.
      label: human label for reports and plots, e.g. ``"multi-spike (count loss)"``.
      rule: the prediction rule in a few words (recorded as ``readout`` in ``run.json`` and
        ``results.json``), e.g. ``"argmax spike count"``.
      loss: ``loss(times, labels, **params) -> [...]`` per-sample loss, ``times`` of shape
        ``[..., n_classes, K]``, ``labels`` of shape ``[...]``.
      loss_params: the keyword arguments of ``loss`` read from the config: a name (the
        config attribute has the same name) or a pair ``(keyword, config_attribute)``; an
        attribute the config does not have is left out, so ``loss`` uses its own default.
      predict: ``predict(times [..., n_classes, K]) -> (pred [...] int32, silent [...] bool)``;
        ``pred == -1`` where every output is silent.
      decision_time: ``decision_time(times [..., n_classes, K]) -> [...]`` float (s): the
        earliest time after which the prediction made from the truncated outputs never
        changes again; ``+inf`` where every output is silent (jit-friendly).
      first_spike_only: the readout looks at each output neuron's first spike only, so a
        buffer of one slot per output neuron is enough (a TTFS readout).
    """

    name: str
    label: str
    rule: str
    loss: Callable[..., jax.Array]
    loss_params: tuple[str | tuple[str, str], ...]
    predict: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    decision_time: Callable[[jax.Array], jax.Array]
    first_spike_only: bool = False

    def loss_kwargs(self, config: Any) -> dict[str, Any]:
        """The loss's keyword arguments taken from ``config`` (any object with attributes)."""
        pairs = (p if isinstance(p, tuple) else (p, p) for p in self.loss_params)
        return {kw: getattr(config, attr) for kw, attr in pairs if hasattr(config, attr)}

    def make_loss(self, config: Any) -> LossFn:
        """``loss(times [B, n_classes, K], labels [B]) -> [B]`` with the config's parameters.

        Args:
          config: an :class:`snnjax.configs.ExperimentConfig` or any object whose attributes
            named in :attr:`loss_params` hold the loss's parameters.
        """
        kwargs = self.loss_kwargs(config)
        loss = self.loss
        return lambda times, labels: loss(times, labels, **kwargs)


# --------------------------------------------------------------------- decision times


def first_spike_decision_time(times: jax.Array) -> jax.Array:
    """Decision time of the first-spike readout: the network's first output spike.

    Args:
      times: ``[..., n_classes, K]`` float output trains (s), sorted; ``+inf`` = empty.

    Returns:
      ``[...]`` float (s); ``+inf`` where every output is silent.
    """
    return jnp.min(first_spike_times(times), axis=-1)


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
    final, silent = predict_from_counts(flat.reshape((-1, n, k)))
    ok = (pred == final[:, None]) | ~finite
    idx = jnp.arange(n * k)
    last_bad = jnp.max(jnp.where(ok, -1, idx), axis=-1)
    when = jnp.take_along_axis(s, jnp.clip(last_bad + 1, 0, n * k - 1)[:, None], axis=1)[:, 0]
    return jnp.where(silent, jnp.inf, when).reshape(lead)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Readout] = {}


def register_readout(readout: Readout, *, replace: bool = False) -> Readout:
    """Add ``readout`` to the registry under ``readout.name`` and return it.

    Raises:
      TypeError: ``readout`` is not a :class:`Readout`.
      ValueError: the name is taken (pass ``replace=True`` to overwrite it).
    """
    if not isinstance(readout, Readout):
        raise TypeError(f"expected a snnjax.readouts.Readout, got {type(readout).__name__}")
    if readout.name in _REGISTRY and not replace:
        raise ValueError(f"readout {readout.name!r} is already registered")
    _REGISTRY[readout.name] = readout
    return readout


def readout_names() -> tuple[str, ...]:
    """Names of the registered readouts, in registration order."""
    return tuple(_REGISTRY)


def registered_readouts() -> Mapping[str, Readout]:
    """Read-only view ``{name: Readout}`` of the registry."""
    return MappingProxyType(_REGISTRY)


def get_readout(name: str) -> Readout:
    """The registered readout called ``name``.

    Raises:
      ValueError: no readout of that name; the message lists the registered names.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(f"{n!r} ({r.rule})" for n, r in _REGISTRY.items())
        raise ValueError(f"unknown readout {name!r}; registered readouts: {known}") from None


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
