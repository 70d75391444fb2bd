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

The built-in readouts and their decision-time rules live in :mod:`snnjax.readouts.builtin`,
imported on first use: this registry itself imports no JAX, so that the command line can
check a config's ``loss`` instantly. Adding a readout is one :func:`register_readout` call
(see ``docs/extending.md``).

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
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "Readout",
    "count_decision_time",
    "first_spike_decision_time",
    "get_readout",
    "readout_names",
    "register_readout",
    "registered_readouts",
]

LossFn = Callable[..., Any]
"""``loss(times [..., n_classes, K], labels [...]) -> [...]`` per-sample loss (jax arrays)."""


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
    loss: Callable[..., Any]
    loss_params: tuple[str | tuple[str, str], ...]
    predict: Callable[[Any], tuple[Any, Any]]
    decision_time: Callable[[Any], Any]
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


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, Readout] = {}

# The readouts snnjax.readouts.builtin registers, by name: config validation knows them
# without importing that module (and JAX); tests/test_readouts.py checks the two agree.
_BUILTIN_MODULE = "snnjax.readouts.builtin"
_BUILTIN_NAMES = ("count", "ttfs", "count_ce")
_BUILTIN_FUNCTIONS = frozenset({"count_decision_time", "first_spike_decision_time"})


def _load_builtins() -> None:
    """Register the built-in readouts (imports :mod:`snnjax.readouts.builtin` once)."""
    importlib.import_module(_BUILTIN_MODULE)  # while it runs: the module being imported


def register_readout(readout: Readout, *, replace: bool = False) -> Readout:
    """Add ``readout`` to the registry under ``readout.name`` and return it.

    Raises:
      TypeError: ``readout`` is not a :class:`Readout`.
      ValueError: the name is taken (pass ``replace=True`` to overwrite it).
    """
    if not isinstance(readout, Readout):
        raise TypeError(f"expected a snnjax.readouts.Readout, got {type(readout).__name__}")
    _load_builtins()  # first, so that a readout never shadows a built-in registered later
    if readout.name in _REGISTRY and not replace:
        raise ValueError(f"readout {readout.name!r} is already registered")
    _REGISTRY[readout.name] = readout
    return readout


def readout_names() -> tuple[str, ...]:
    """Names of the registered readouts: the built-in ones, then others in registration
    order (imports no JAX unless another readout was registered)."""
    return tuple(dict.fromkeys((*_BUILTIN_NAMES, *_REGISTRY)))


def registered_readouts() -> Mapping[str, Readout]:
    """Read-only view ``{name: Readout}`` of the registry."""
    _load_builtins()
    return MappingProxyType(_REGISTRY)


def get_readout(name: str) -> Readout:
    """The registered readout called ``name``.

    Raises:
      ValueError: no readout of that name; the message lists the registered names.
    """
    _load_builtins()
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(f"{n!r} ({r.rule})" for n, r in _REGISTRY.items())
        raise ValueError(f"unknown readout {name!r}; registered readouts: {known}") from None


def __getattr__(name):
    if name in _BUILTIN_FUNCTIONS:
        return getattr(importlib.import_module(_BUILTIN_MODULE), name)
    raise AttributeError(f"module 'snnjax.readouts' has no attribute {name!r}")
