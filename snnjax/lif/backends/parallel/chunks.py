"""Neuron chunks: run a per-neuron computation on groups of neurons to bound its memory.

The parallel backend materialises ``[B, n, E]`` arrays (every sample, neuron of a chunk and
input event). :func:`neuron_chunk_size` picks the number ``n`` of neurons per chunk so that
one such array has at most ``max_chunk_elements`` elements; :func:`map_neuron_chunks` runs
a function over the chunks with :func:`jax.lax.map` (sequentially, one chunk in memory at
a time) and reassembles the neuron axis.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["MAX_CHUNK_ELEMENTS", "map_neuron_chunks", "neuron_chunk_size"]

MAX_CHUNK_ELEMENTS = 2**25
"""Default memory budget of the parallel backend: the most elements of one ``[B, n, E]``
intermediate (``2**25`` = 128 MiB in float32, 256 MiB in float64). A forward pass keeps
about six such arrays alive at once (exponential sums ``a``, ``b``, the threshold-query
table, event weights, decays, scan temporaries), a backward pass about as many; the MNIST
hidden layer (batch 50, 800 neurons, 784 event slots: 31.4 M elements) fits in one chunk."""


def neuron_chunk_size(batch: int, n_out: int, n_events: int, max_chunk_elements: int) -> int:
    """Neurons per chunk: the most for which ``batch * n * n_events <= max_chunk_elements``
    (at least 1, at most ``n_out``).

    Example:
      >>> neuron_chunk_size(50, 800, 784, 2**25), neuron_chunk_size(50, 800, 784, 2**20)
      (800, 26)
    """
    if max_chunk_elements < 1:
        raise ValueError(f"max_chunk_elements must be >= 1, got {max_chunk_elements}")
    per_neuron = max(1, batch * n_events)
    return max(1, min(n_out, max_chunk_elements // per_neuron))


def _split(x: jax.Array, n_chunks: int, chunk: int, axis: int, fill) -> jax.Array:
    """``x`` with its neuron ``axis`` padded to ``n_chunks * chunk`` (with ``fill``) and
    split into a leading chunk axis: ``[n_chunks, ..., chunk, ...]``."""
    pad = n_chunks * chunk - x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, pad)
    x = jnp.pad(x, widths, constant_values=fill)
    x = x.reshape(*x.shape[:axis], n_chunks, chunk, *x.shape[axis + 1 :])
    return jnp.moveaxis(x, axis, 0)


def map_neuron_chunks(
    fn: Callable,
    per_neuron: tuple[tuple[jax.Array, int, float], ...],
    n_out: int,
    chunk: int,
    out_axes: tuple[int | None, ...],
):
    """Apply ``fn`` to chunks of ``chunk`` neurons and reassemble its outputs.

    Args:
      fn: ``(*per_neuron_chunks) -> tuple of arrays``; everything shared by all neurons is
        closed over.
      per_neuron: ``(array, neuron_axis, fill)`` for every per-neuron argument; the neuron
        axis is padded with ``fill`` (a value that keeps the padding neurons harmless,
        e.g. weight 0, tau 1) to a multiple of ``chunk``.
      n_out: number of neurons.
      chunk: neurons per chunk (:func:`neuron_chunk_size`).
      out_axes: for each output of ``fn``, its neuron axis (reassembled and cut back to
        ``n_out``), or ``None``: the output is summed over the chunks (e.g. an input
        gradient).

    Returns:
      The outputs of ``fn`` for all neurons, and ``[n_chunks]`` of each output with
      ``out_axes`` ``None`` summed; a single chunk calls ``fn`` directly (no ``lax.map``).
    """
    n_chunks = -(-n_out // chunk)
    if n_chunks == 1:
        return fn(*(x for x, _, _ in per_neuron))
    xs = tuple(_split(x, n_chunks, chunk, axis, fill) for x, axis, fill in per_neuron)
    outs = jax.lax.map(lambda args: fn(*args), xs)
    merged = []
    for y, axis in zip(outs, out_axes, strict=True):
        if axis is None:
            merged.append(jnp.sum(y, axis=0))
            continue
        y = jnp.moveaxis(y, 0, axis)
        y = y.reshape(*y.shape[:axis], n_chunks * chunk, *y.shape[axis + 2 :])
        merged.append(jax.lax.slice_in_dim(y, 0, n_out, axis=axis))
    return tuple(merged)
