"""Input encodings: from pixel intensities to input spike trains (SPEC §5).

Spike trains follow the library convention: spike times ``[..., n, K]`` float (seconds),
sorted ascending along the last axis, ``+inf`` = empty slot (no spike).

Latency (time-to-first-spike) coding, as in Bacho & Chu (2023) and Göltz et al. (2021):
a bright pixel spikes early, a dark one late, and a black pixel (0) never spikes::

    t = t_window * (1 - pixel / max_value)   for pixel > 0
    t = +inf                                 for pixel == 0

so a full-intensity pixel (``pixel == max_value``) spikes at ``t = 0`` and every input
neuron spikes at most once (``K = 1``).
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["latency_encode", "count_active_inputs"]


def _is_concrete(x) -> bool:
    """True when ``x`` holds values (not a tracer under ``jit``/``vmap``/``grad``)."""
    return not isinstance(x, jax.core.Tracer)


def latency_encode(
    images,
    *,
    t_window: float = 0.1,
    max_value: float = 255.0,
    image_ndim: int = 2,
    flatten: bool = True,
    dtype=jnp.float32,
) -> jax.Array:
    """Latency-encode pixel intensities into single input spikes (SPEC §5).

    Each pixel becomes one input neuron with one slot::

        t = t_window * (1 - pixel / max_value)   if pixel > 0      (seconds)
        t = +inf                                 if pixel == 0     (no spike)

    so ``pixel == max_value`` spikes at ``t = 0`` and ``pixel -> 0+`` spikes just
    before ``t_window``.

    Shapes. The trailing ``image_ndim`` axes of ``images`` form one image; all axes
    before them are batch axes ``[...]``:

    * ``flatten=True`` (default): the image axes are flattened (C order) into the
      input-neuron axis, giving ``[..., n_pixels, 1]``. ``[B, 28, 28] -> [B, 784, 1]``
      with the default ``image_ndim=2``; for already flat inputs ``[B, 784]`` pass
      ``image_ndim=1`` (``-> [B, 784, 1]``); ``image_ndim=3`` flattens ``[..., H, W, C]``.
    * ``flatten=False``: every element is encoded in place and a slot axis is
      appended, ``[..., H, W] -> [..., H, W, 1]`` (``image_ndim`` is then only used to
      check that ``images`` has enough axes). Useful for convolutional layers.

    Args:
      images: ``[..., *image_shape]`` uint8 / integer / float array of intensities in
        ``[0, max_value]``.
      t_window: encoding window ``T_w`` in seconds (> 0); the paper uses 0.1 s.
      max_value: intensity that maps to ``t = 0`` (> 0); 255 for 8-bit images,
        1.0 for images already scaled to ``[0, 1]``.
      image_ndim: number of trailing axes that form one image (>= 1).
      flatten: flatten the image axes into one neuron axis (see above).
      dtype: floating dtype of the result (float32 by default).

    Returns:
      ``[..., n_pixels, 1]`` (or ``[..., *image_shape, 1]`` when ``flatten=False``)
      spike times in seconds, ``dtype``; ``+inf`` where the pixel is 0. A train with one
      slot is trivially sorted.

    Raises:
      ValueError: ``images`` has fewer than ``image_ndim`` axes, is not real-valued,
        or (when its values are concrete, i.e. outside ``jit``) contains NaN, negative
        values or values above ``max_value``; ``t_window`` or ``max_value`` (when
        concrete) is not a positive finite scalar representable in ``dtype``.
      TypeError: ``t_window`` or ``max_value`` is not a real number (a string, a bool),
        or ``dtype`` is no dtype.

    Example:
      >>> x = jnp.array([[0, 128], [255, 51]], dtype=jnp.uint8)
      >>> latency_encode(x).shape
      (4, 1)
    """
    try:
        out_dtype = jnp.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating dtype, got {dtype!r}") from None
    if not jnp.issubdtype(out_dtype, jnp.floating):
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    if isinstance(image_ndim, bool) or not isinstance(image_ndim, int) or image_ndim < 1:
        raise ValueError(f"image_ndim must be an int >= 1, got {image_ndim!r}")
    for name, value in (("t_window", t_window), ("max_value", max_value)):
        _check_positive_scalar(name, value, out_dtype)
    _check_images(images, max_value, image_ndim)
    return _latency_encode_core(images, t_window, max_value, image_ndim, flatten, out_dtype)


def _check_positive_scalar(name: str, value, dtype) -> None:
    """Raise unless a concrete ``value`` is a real scalar that is finite and a positive
    normal number in ``dtype`` (so that ``t_window * (max - x) / max`` is never NaN)."""
    if not _is_concrete(value):
        return
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = np.asarray(value)
    if v.dtype == np.bool_ or v.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number, got dtype {v.dtype}")
    info = jnp.finfo(dtype)
    if v.ndim != 0 or not np.isfinite(v) or not float(info.tiny) <= v <= float(info.max):
        raise ValueError(
            f"{name} must be a positive finite scalar representable in {jnp.dtype(dtype).name} "
            f"(between {float(info.tiny):.3g} and {float(info.max):.3g}), got {value!r}"
        )


def _check_images(images, max_value, image_ndim: int) -> None:
    """Raises ``ValueError`` unless ``images`` is real with ``>= image_ndim`` axes and (when
    concrete) its values lie in ``[0, max_value]``."""
    images_dtype = jnp.result_type(images)
    if jnp.issubdtype(images_dtype, jnp.complexfloating) or not (
        jnp.issubdtype(images_dtype, jnp.number) or images_dtype == jnp.bool_
    ):
        raise ValueError(f"images must be real-valued, got dtype {images_dtype}")
    shape = jnp.shape(images)
    if len(shape) < image_ndim:
        raise ValueError(f"images of shape {shape} has fewer than image_ndim={image_ndim} axes")
    if not (_is_concrete(images) and _is_concrete(max_value)):
        return
    x = np.asarray(images)
    if not x.size:
        return
    if jnp.issubdtype(images_dtype, jnp.floating) and np.isnan(x).any():
        raise ValueError("images contain NaN")
    lo, hi = x.min(), x.max()
    if lo < 0:
        raise ValueError(f"images contain negative values (min {lo})")
    if hi > np.asarray(max_value):
        raise ValueError(f"images contain values above max_value={max_value} (max {hi})")


@partial(jax.jit, static_argnums=(3, 4, 5))
def _latency_encode_core(images, t_window, max_value, image_ndim, flatten, dtype):
    shape = images.shape
    x = images.astype(dtype)
    t_window = jnp.asarray(t_window, dtype)
    max_value = jnp.asarray(max_value, dtype)
    # (max - x) / max gives t = 0 exactly at x == max.
    t = t_window * ((max_value - x) / max_value)
    t = jnp.where(x > 0, t, jnp.inf)
    if flatten:
        batch = shape[: len(shape) - image_ndim]
        t = t.reshape(*batch, math.prod(shape[len(shape) - image_ndim :]))
    return t[..., None]


def count_active_inputs(spike_times) -> jax.Array:
    """Number of spikes (finite entries) per sample.

    Useful to size the static bound on active input events of the event kernel, e.g.
    ``int(count_active_inputs(x).max())`` over a data set (MNIST digits have ~134 active
    pixels on average).

    Args:
      spike_times: ``[..., n, K]`` float spike times; ``+inf`` = empty slot.

    Returns:
      ``[...]`` int32: number of finite entries over the last two axes.
    """
    t = jnp.asarray(spike_times)
    if t.ndim < 2:
        raise ValueError(f"spike_times must have shape [..., n, K], got {t.shape}")
    return jnp.sum(jnp.isfinite(t), axis=(-2, -1), dtype=jnp.int32)
