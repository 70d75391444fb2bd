"""Networks from configs: :func:`build_model` and :func:`init_params`."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from snnjax.configs import ExperimentConfig
from snnjax.data.registry import get_dataset
from snnjax.lif import EventBackend
from snnjax.nn import SpikingNetwork, make_conv_network, make_dense_network
from snnjax.nn import naming as nn_naming

__all__ = ["build_model", "init_params", "spiking_layer_indices", "spiking_layer_names"]


def _inits(config: ExperimentConfig):
    inits = [tuple(spec) for spec in config.init]
    return inits[0] if len(inits) == 1 else inits


def build_model(
    config: ExperimentConfig,
    max_input_events: int | Sequence[int | None] | None = None,
    backend: str | EventBackend | None = None,
) -> SpikingNetwork:
    """The network of ``config`` (unbound Linen module).

    Args:
      config: the experiment config.
      max_input_events: static bound on the input events per sample: an int (or ``None``)
        for the *first* dense layer only, or one entry per spiking layer (``None`` = every
        slot; see :mod:`snnjax.train.bounds`). Conv networks ignore it (a receptive field
        holds at most ``kernel_size**2`` events).
      backend: event backend of every spiking layer (see :func:`snnjax.lif_layer`;
        ``None`` = the ``SNNJAX_KERNEL`` default, else automatic).

    Returns:
      A :class:`snnjax.nn.SpikingNetwork`; ``model.apply({"params": p}, times)`` returns a
      :class:`snnjax.nn.NetworkOutput`.
    """
    if config.architecture == "conv":
        return make_conv_network(
            input_shape=get_dataset(config.dataset).network_input_shape("conv"),
            conv_features=config.conv_features,
            kernel_size=config.kernel_size,
            pool_window=2,
            dense_sizes=config.sizes,
            thetas=config.thetas,
            max_spikes=config.max_spikes,
            tau_syn=config.tau_syn,
            t_max=config.t_max,
            init=_inits(config),
            backend=backend,
        )
    n = config.n_spiking_layers
    if isinstance(max_input_events, Sequence):
        bounds = list(max_input_events)
        if len(bounds) != n:
            raise ValueError(
                f"max_input_events needs {n} entries (one per spiking layer), got {bounds}"
            )
    else:
        bounds = [max_input_events] + [None] * (n - 1)
    return make_dense_network(
        sizes=config.sizes,
        thetas=config.thetas,
        max_spikes=config.max_spikes,
        tau_syn=config.tau_syn,
        t_max=config.t_max,
        init=_inits(config),
        max_input_events=bounds,
        backend=backend,
    )


def init_params(model: SpikingNetwork, input_shape: tuple[int, ...], seed: int):
    """Initial parameters (the ``"params"`` collection) from ``seed``.

    Args:
      model: the network.
      input_shape: per-sample input shape without the spike axis, e.g. ``(5,)``.
      seed: integer seed (``jax.random.key(seed)``).
    """
    dummy = jnp.full((1,) + tuple(input_shape) + (1,), jnp.inf, jnp.float32)
    variables = jax.jit(model.init)(jax.random.key(seed), dummy)
    return variables["params"]


def spiking_layer_indices(model: SpikingNetwork) -> list[int]:
    """Indices into ``model.layers`` (and ``NetworkOutput.layer_times``) of the spiking
    layers (:func:`snnjax.nn.spiking_layer_indices`, as a list)."""
    return list(nn_naming.spiking_layer_indices(model))


def spiking_layer_names(model: SpikingNetwork) -> list[str]:
    """Readable names of the spiking layers: ``conv1, conv2, ..., hidden1, ..., output``
    (:func:`snnjax.nn.spiking_layer_names`, as a list)."""
    return list(nn_naming.spiking_layer_names(model))
