r"""Sparsity and energy: spike counts, synaptic operations, silent neurons (SPEC §7).

Spike trains follow the library convention ``[B, *neurons, K]`` (float seconds, sorted,
``+inf`` = empty slot), as in :class:`snnjax.nn.NetworkOutput`: ``layer_times[i]`` is the
output of ``model.layers[i]`` (pooling and flatten layers included).

Definitions used here:

* **spikes per sample** of a layer: the finite entries of its trains, per sample. Spikes
  dropped because a buffer was full are not in the trains and are not counted (the
  network reports them separately in ``NetworkOutput.n_dropped``).
* **synaptic operations** (SynOps, the energy proxy): every spike delivered to a spiking
  layer costs one operation per synapse it reaches,

  .. math:: \mathrm{SynOps}_\ell = \sum_{j \in \mathrm{in}(\ell)} n_j \, \mathrm{fan\_out}_\ell(j),

  summed over the layer's *input* neurons ``j`` (the network input for the first layer, the
  previous layer's — possibly pooled — trains otherwise). A dense layer of ``n_out``
  neurons has ``fan_out = n_out`` for every input. A "valid", stride-1 convolution with
  kernel ``kh x kw`` and ``F`` features has, exactly, ``fan_out(r, c) = N_h(r) N_w(c) F``
  where ``N_h(r) = min(r, H - kh) - max(0, r - kh + 1) + 1`` is the number of output rows
  whose receptive field contains input row ``r`` (``kh`` in the interior, fewer at the
  border). Pooling and flattening route spikes without synapses and cost nothing; spikes of
  a spike-union pool are exactly its source spikes, so the next layer counts them once.
  Every connection of a dense or convolutional kernel counts, whatever its weight.
* **silent neurons**: neurons that never spike on the whole data set (aggregate
  :func:`neuron_spike_totals` over batches, then :func:`silent_fraction`).
* **silent label**: a sample whose label neuron (output layer) has no spike.

The counting conventions are those of :mod:`snnjax.spikes` (:func:`spikes_per_sample` is
re-exported from there); spiking layers and their names (``hidden1 ... output``) those of
:mod:`snnjax.nn` (:func:`spiking_layer_indices`, :func:`layer_names`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from snnjax import spikes
from snnjax.nn.layers import LIFConv, LIFDense
from snnjax.nn.naming import spiking_layer_indices, spiking_layer_names
from snnjax.spikes import spike_counts, spikes_per_sample

__all__ = [
    "SparsityStats",
    "conv_fan_out",
    "dense_fan_out",
    "label_silent",
    "layer_fan_out",
    "layer_names",
    "neuron_spike_totals",
    "silent_fraction",
    "sparsity_stats",
    "spikes_per_sample",
    "spiking_layer_indices",
    "synaptic_operations",
]


# ------------------------------------------------------------------------ counting


def neuron_spike_totals(times) -> jax.Array:
    """Spikes of every neuron summed over the batch (add these up over batches).

    Args:
      times: ``[B, *neurons, K]`` float spike trains; ``+inf`` = empty.

    Returns:
      ``[*neurons]`` int32.
    """
    t = jnp.asarray(times)
    if t.ndim < 2:
        raise ValueError(f"times must have shape [B, ..., K], got {t.shape}")
    return jnp.sum(jnp.isfinite(t), axis=(0, t.ndim - 1), dtype=jnp.int32)


def silent_fraction(totals) -> jax.Array:
    """Fraction of neurons with no spike, from :func:`neuron_spike_totals` over a data set.

    Args:
      totals: ``[*neurons]`` spike totals of one layer.

    Returns:
      float32 scalar in ``[0, 1]``.
    """
    return jnp.mean((jnp.asarray(totals) == 0).astype(jnp.float32))


def label_silent(output_times, labels) -> jax.Array:
    """Whether the label neuron of each sample is silent.

    Args:
      output_times: ``[B, n_classes, K]`` output trains; ``+inf`` = empty.
      labels: ``[B]`` int labels.

    Returns:
      ``[B]`` bool (its mean is the fraction of samples with a silent label neuron).
    """
    t = jnp.asarray(output_times)
    y = jnp.asarray(labels)
    if t.ndim != 3 or y.shape != t.shape[:1]:
        raise ValueError(
            f"expected output_times [B, n_classes, K] and labels [B], got {t.shape} and {y.shape}"
        )
    return spikes.label_silent(t, y)


# -------------------------------------------------------------------------- fan-out


def dense_fan_out(n_in: int, n_out: int) -> np.ndarray:
    """``[n_in]`` int64: every input of a dense layer reaches all ``n_out`` neurons."""
    return np.full((int(n_in),), int(n_out), np.int64)


def _pair(v) -> tuple[int, int]:
    pair = (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(s) for s in v)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"kernel_size must be a positive int or a pair of them, got {v!r}")
    return pair


def _coverage(size: int, k: int) -> np.ndarray:
    """Number of valid stride-1 windows of length ``k`` containing each of ``size`` positions."""
    r = np.arange(size)
    return np.minimum(r, size - k) - np.maximum(0, r - k + 1) + 1


def conv_fan_out(input_shape: Sequence[int], kernel_size, features: int) -> np.ndarray:
    """Exact fan-out of every input of a "valid", stride-1 convolution.

    Args:
      input_shape: ``(H, W, C)`` of the layer's input.
      kernel_size: ``(kh, kw)`` or an int.
      features: output channels ``F``.

    Returns:
      ``[H, W, C]`` int64: ``N_h(r) * N_w(c) * F`` (``kh * kw * F`` in the interior).

    Example:
      >>> conv_fan_out((4, 4, 1), 3, 2)[..., 0]
      array([[2, 4, 4, 2],
             [4, 8, 8, 4],
             [4, 8, 8, 4],
             [2, 4, 4, 2]])
    """
    height, width, channels = (int(s) for s in input_shape)
    kh, kw = _pair(kernel_size)
    if kh > height or kw > width:
        raise ValueError(f"kernel {(kh, kw)} larger than the input {(height, width)}")
    cov = _coverage(height, kh)[:, None] * _coverage(width, kw)[None, :]
    return np.broadcast_to((cov * int(features))[:, :, None], (height, width, channels)).astype(
        np.int64
    )


def layer_fan_out(layer: Any, input_neuron_shape: Sequence[int]) -> np.ndarray:
    """Fan-out of every input neuron of a spiking layer.

    Args:
      layer: an :class:`snnjax.nn.LIFDense` or :class:`snnjax.nn.LIFConv` module.
      input_neuron_shape: per-sample shape of the layer's input without the spike axis,
        ``(n_in,)`` (dense) or ``(H, W, C)`` (conv).

    Returns:
      ``[*input_neuron_shape]`` int64.
    """
    shape = tuple(int(s) for s in input_neuron_shape)
    if isinstance(layer, LIFDense):
        if len(shape) != 1:
            raise ValueError(f"a dense layer takes [B, n_in, K] inputs, got neurons {shape}")
        return dense_fan_out(shape[0], layer.features)
    if isinstance(layer, LIFConv):
        if len(shape) != 3:
            raise ValueError(f"a conv layer takes [B, H, W, C, K] inputs, got neurons {shape}")
        return conv_fan_out(shape, layer.kernel_size, layer.features)
    raise TypeError(f"no fan-out for {type(layer).__name__} (only LIFDense / LIFConv)")


def layer_names(model: Any) -> tuple[str, ...]:
    """Names of the spiking layers, ``conv1 ... hidden1 ... output``
    (:func:`snnjax.nn.spiking_layer_names`: the names of the training metrics)."""
    return spiking_layer_names(model)


def synaptic_operations(model: Any, input_times, layer_times: Sequence[Any]) -> jax.Array:
    """Synaptic operations per sample and spiking layer (module docstring for the formula).

    Args:
      model: the :class:`snnjax.nn.SpikingNetwork` that produced ``layer_times``.
      input_times: ``[B, *input_neurons, K_in]`` the network input.
      layer_times: ``NetworkOutput.layer_times`` (one entry per ``model.layers``).

    Returns:
      ``[B, L]`` float32 SynOps of each of the ``L`` spiking layers (caused by the spikes
      arriving at that layer); sum over the last axis for the total.
    """
    if len(layer_times) != len(model.layers):
        raise ValueError(
            f"layer_times has {len(layer_times)} entries, the model {len(model.layers)} layers"
        )
    per_layer = []
    for i in spiking_layer_indices(model):
        x = jnp.asarray(input_times if i == 0 else layer_times[i - 1])
        fan = jnp.asarray(layer_fan_out(model.layers[i], x.shape[1:-1]), jnp.float32)
        counts = spike_counts(x).astype(jnp.float32)
        per_layer.append(jnp.sum((counts * fan).reshape(x.shape[0], -1), axis=1))
    return jnp.stack(per_layer, axis=1)


class SparsityStats(NamedTuple):
    """Per-sample sparsity of one batch (:func:`sparsity_stats`); ``L`` spiking layers.

    Attributes:
      input_spikes: ``[B]`` int32 spikes of the network input.
      spikes: ``[B, L]`` int32 spikes of each spiking layer (hidden and output).
      synops: ``[B, L]`` float32 synaptic operations caused by the spikes arriving at each
        spiking layer (input spikes included, for the first layer).
      neuron_totals: tuple of ``L`` arrays ``[*neurons]`` int32, spikes of every neuron
        summed over the batch (for silent-neuron fractions over a data set).
      label_silent: ``[B]`` bool, the label neuron did not spike (all False without labels).
    """

    input_spikes: jax.Array
    spikes: jax.Array
    synops: jax.Array
    neuron_totals: tuple[jax.Array, ...]
    label_silent: jax.Array


def sparsity_stats(model: Any, input_times, out: Any, labels=None) -> SparsityStats:
    """Sparsity of one batch through a network (jit-friendly).

    Args:
      model: the :class:`snnjax.nn.SpikingNetwork`.
      input_times: ``[B, *input_neurons, K_in]`` its input.
      out: the :class:`snnjax.nn.NetworkOutput` of ``model.apply(params, input_times)``.
      labels: optional ``[B]`` int labels (for :attr:`SparsityStats.label_silent`).

    Returns:
      :class:`SparsityStats`.
    """
    idx = spiking_layer_indices(model)
    spikes = jnp.stack([spikes_per_sample(out.layer_times[i]) for i in idx], axis=1)
    batch = spikes.shape[0]
    return SparsityStats(
        input_spikes=spikes_per_sample(input_times),
        spikes=spikes,
        synops=synaptic_operations(model, input_times, out.layer_times),
        neuron_totals=tuple(neuron_spike_totals(out.layer_times[i]) for i in idx),
        label_silent=(
            jnp.zeros((batch,), bool) if labels is None else label_silent(out.times, labels)
        ),
    )
