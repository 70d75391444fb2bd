r"""Elastic distortions of images (Simard et al. 2003), in JAX, seeded by a PRNG key.

One distortion per image: two fields of white noise ``u ~ U(-1, 1)`` (rows, columns) are
smoothed by a Gaussian of standard deviation ``sigma`` pixels and scaled by ``alpha``
pixels, giving a displacement field ``d [2, H, W]``; the image is resampled at
``(i + d_y[i, j], j + d_x[i, j])`` by bilinear interpolation, zero outside the image::

    d = alpha * (g_sigma * u)          |d| <= alpha everywhere (g_sigma sums to 1)
    out[i, j] = bilinear(image, i + d_y[i, j], j + d_x[i, j])

The noise is drawn on an ``(H + 2r) x (W + 2r)`` grid and smoothed without padding
(``r = ceil(4 sigma)``, the kernel's radius), so the field is statistically the same at
the border as in the middle. Bilinear weights are convex, so the pixel range is kept;
integer images (e.g. ``uint8``) come back rounded to their own dtype.

Everything is ``jit``/``vmap``-able with static ``sigma`` (it sets the kernel size) and
deterministic for a given key. :func:`elastic_deform_spike_times` applies the distortion
to latency-coded inputs (:func:`snnjax.encoding.latency_encode` of 8-bit images) by
decoding them to the exact 8-bit pixels, distorting and re-encoding, which is the
distortion of the raw images before the encoding; the training step uses it
(``augment="elastic"`` in :class:`snnjax.configs.ExperimentConfig`) with
:func:`augmentation_key`.

Example:
  >>> import jax, jax.numpy as jnp
  >>> images = jnp.zeros((2, 28, 28), jnp.uint8).at[:, 10:18, 12:16].set(255)
  >>> out = elastic_deform(images, jax.random.key(0), alpha=9.0, sigma=3.0)
  >>> out.shape, out.dtype
  ((2, 28, 28), dtype('uint8'))
  >>> bool(jnp.all(elastic_deform(images, jax.random.key(0), alpha=0.0, sigma=3.0) == images))
  True
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.encoding import latency_encode

__all__ = [
    "AUGMENT_STREAM",
    "augmentation_key",
    "elastic_deform",
    "elastic_deform_spike_times",
    "elastic_displacement",
    "gaussian_kernel1d",
    "warp_bilinear",
]

#: Folded into ``jax.random.key(seed)`` so that the augmentation stream of a run is
#: independent of its weight initialisation (which uses ``jax.random.key(seed)``).
AUGMENT_STREAM = 0x45_4C_41  # "ELA"


def augmentation_key(seed, step) -> jax.Array:
    """The key of one training step's augmentation: a function of ``(seed, step)`` only.

    ``step`` is the optimizer step count (``TrainState.step`` = ``epoch * steps_per_epoch
    + batch``), so a resumed run draws the same distortions as an uninterrupted one.

    Args:
      seed: the run's seed (int or int32 scalar; may be traced).
      step: the optimizer step (int or int32 scalar; may be traced).

    Returns:
      A typed PRNG key; split it into one key per sample.
    """
    base = jax.random.fold_in(jax.random.key(seed), AUGMENT_STREAM)
    return jax.random.fold_in(base, step)


def _check_params(alpha, sigma) -> None:
    if isinstance(sigma, jax.core.Tracer) or not isinstance(sigma, (int, float)):
        raise TypeError(f"sigma must be a Python number (it sets the kernel size), got {sigma!r}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive finite number of pixels, got {sigma!r}")
    if not isinstance(alpha, jax.core.Tracer):
        a = np.asarray(alpha)
        if a.ndim != 0 or not np.isfinite(a) or a < 0:
            raise ValueError(f"alpha must be a finite number of pixels >= 0, got {alpha!r}")


def gaussian_kernel1d(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian ``[2r + 1]`` (float32), ``r = ceil(4 sigma)`` (as SciPy's
    ``gaussian_filter`` with ``truncate=4``); it sums to 1.

    Raises:
      ValueError: ``sigma`` is not a positive finite number.
    """
    _check_params(0.0, sigma)
    r = math.ceil(4.0 * sigma)
    x = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def _smoothing_matrix(n: int, kernel: np.ndarray) -> np.ndarray:
    """``[n, n + 2r]`` matrix whose row ``i`` is the kernel placed at columns ``i..i+2r``
    (a "valid" correlation as a matrix product)."""
    m = np.zeros((n, n + kernel.size - 1), np.float32)
    for i in range(n):
        m[i, i : i + kernel.size] = kernel
    return m


def elastic_displacement(key: jax.Array, shape: tuple[int, int], *, alpha, sigma: float):
    """A random smooth displacement field ``[2, H, W]`` float32 in pixels (rows, columns).

    ``alpha * (g_sigma * u)`` with ``u ~ U(-1, 1)`` white noise on a grid padded by the
    kernel radius, so every component satisfies ``|d| <= alpha`` and its difference
    between neighbouring pixels is at most ``alpha * sum|g[k+1] - g[k]|`` (``g`` =
    :func:`gaussian_kernel1d`, about ``alpha * 0.8 / sigma``).

    Args:
      key: PRNG key.
      shape: ``(H, W)`` of the image.
      alpha: scale in pixels (>= 0; may be traced).
      sigma: smoothing standard deviation in pixels (> 0, a Python number).
    """
    _check_params(alpha, sigma)
    h, w = (int(s) for s in shape)
    kernel = gaussian_kernel1d(sigma)
    pad = kernel.size - 1
    noise = jax.random.uniform(key, (2, h + pad, w + pad), jnp.float32, -1.0, 1.0)
    rows = jnp.asarray(_smoothing_matrix(h, kernel))
    cols = jnp.asarray(_smoothing_matrix(w, kernel))
    # HIGHEST: full float32 products on every backend (no TF32/bf16 passes on accelerators).
    smooth = jnp.einsum("ip,cpq,jq->cij", rows, noise, cols, precision=jax.lax.Precision.HIGHEST)
    return jnp.asarray(alpha, jnp.float32) * smooth


def warp_bilinear(image: jax.Array, displacement: jax.Array) -> jax.Array:
    """Resample ``image`` at ``(i + d[0, i, j], j + d[1, i, j])``, bilinear, 0 outside.

    Args:
      image: ``[H, W]`` or ``[H, W, C]`` (the same displacement for every channel).
      displacement: ``[2, H, W]`` in pixels: row (down) and column (right) offsets of the
        point each output pixel is read from (a constant ``(1, 0)`` moves the content one
        row up).

    Returns:
      float32 array of ``image``'s shape: convex combinations of at most four pixels
      (missing neighbours outside the image count as 0).
    """
    h, w = image.shape[:2]
    x = image.astype(jnp.float32)
    d = displacement.astype(jnp.float32)
    ii, jj = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    src_i, src_j = ii.astype(jnp.float32) + d[0], jj.astype(jnp.float32) + d[1]
    i0, j0 = jnp.floor(src_i), jnp.floor(src_j)
    wi, wj = src_i - i0, src_j - j0
    i0, j0 = i0.astype(jnp.int32), j0.astype(jnp.int32)
    extra = (1,) * (x.ndim - 2)

    def at(i, j):
        inside = (i >= 0) & (i < h) & (j >= 0) & (j < w)
        v = x[jnp.clip(i, 0, h - 1), jnp.clip(j, 0, w - 1)]
        return jnp.where(inside.reshape(inside.shape + extra), v, 0.0)

    wi, wj = wi.reshape(wi.shape + extra), wj.reshape(wj.shape + extra)
    top = (1.0 - wj) * at(i0, j0) + wj * at(i0, j0 + 1)
    bottom = (1.0 - wj) * at(i0 + 1, j0) + wj * at(i0 + 1, j0 + 1)
    return (1.0 - wi) * top + wi * bottom


def elastic_deform(images: jax.Array, key: jax.Array, *, alpha, sigma: float) -> jax.Array:
    """Elastic distortion of each image of a batch, one random field per image.

    Args:
      images: ``[B, H, W]`` or ``[B, H, W, C]``, values ``>= 0`` (e.g. ``uint8`` pixels or
        floats in ``[0, 1]``).
      key: PRNG key; image ``b`` uses ``jax.random.split(key, B)[b]``.
      alpha: displacement scale in pixels (>= 0; 0 = identity; may be traced).
      sigma: smoothing of the field in pixels (> 0, a Python number).

    Returns:
      The distorted images, same shape. Float inputs give float32 in
      ``[0, max(images)]``; integer inputs are rounded back to their dtype.

    Raises:
      ValueError: ``images`` is not 3-D or 4-D, or ``alpha``/``sigma`` are out of range.
    """
    images = jnp.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be [B, H, W] or [B, H, W, C], got shape {tuple(images.shape)}"
        )
    _check_params(alpha, sigma)
    shape = images.shape[1:3]

    def one(image, k):
        return warp_bilinear(image, elastic_displacement(k, shape, alpha=alpha, sigma=sigma))

    out = jax.vmap(one)(images, jax.random.split(key, images.shape[0]))
    # Convex weights keep the range; clip the last-bit rounding of the weights.
    top = jnp.max(images).astype(jnp.float32) if images.size else jnp.float32(0.0)
    out = jnp.clip(out, 0.0, top)
    if jnp.issubdtype(images.dtype, jnp.integer):
        return jnp.round(out).astype(images.dtype)
    return out


def elastic_deform_spike_times(
    times: jax.Array,
    key: jax.Array,
    *,
    alpha,
    sigma: float,
    t_window: float,
    image_shape: tuple[int, int],
) -> jax.Array:
    """Elastic distortion of latency-coded 8-bit images, in the spike-time domain.

    Decodes ``t = t_window (1 - p / 255)`` (``inf`` = pixel 0) to the exact ``uint8``
    pixels ``p``, distorts them with :func:`elastic_deform` and encodes them again with
    :func:`snnjax.encoding.latency_encode` (``max_value=255``): the same spike times as
    distorting the raw images before the encoding (``alpha = 0`` gives ``times`` back
    bit for bit).

    Args:
      times: ``[B, H*W*C, 1]`` (dense input) or ``[B, H, W, C, 1]`` (conv input) spike
        times in seconds, ``inf`` = no spike.
      key: PRNG key (one field per sample, see :func:`elastic_deform`).
      alpha, sigma: as :func:`elastic_deform` (pixels).
      t_window: the encoding window (s) the inputs were made with (a Python number).
      image_shape: ``(H, W)`` of one image.

    Returns:
      Spike times of ``times``' shape and dtype.
    """
    b = times.shape[0]
    h, w = (int(s) for s in image_shape)
    n = math.prod(times.shape[1:])
    if n % (h * w):
        raise ValueError(
            f"times of shape {tuple(times.shape)} do not hold images of shape {(h, w)}"
        )
    t = times.reshape(b, h, w, n // (h * w))
    pixels = jnp.where(jnp.isfinite(t), 255.0 * (1.0 - t / jnp.asarray(t_window, t.dtype)), 0.0)
    pixels = jnp.clip(jnp.round(pixels), 0.0, 255.0).astype(jnp.uint8)
    warped = elastic_deform(pixels, key, alpha=alpha, sigma=sigma)
    # Re-encode by table: the very values latency_encode gives each 8-bit pixel outside jit
    # (inside a larger jitted computation XLA may round the division differently).
    table = jnp.asarray(_encoding_table(float(t_window)), times.dtype)
    return table[warped.astype(jnp.int32)].reshape(times.shape)


@functools.lru_cache(maxsize=16)
def _encoding_table(t_window: float) -> np.ndarray:
    """``[256]`` spike time of each 8-bit pixel value (``inf`` for 0), as
    :func:`snnjax.encoding.latency_encode` computes it (evaluated now, also under a trace)."""
    levels = np.arange(256, dtype=np.uint8)
    with jax.ensure_compile_time_eval():
        table = latency_encode(levels, t_window=t_window, image_ndim=1, flatten=False)
    return np.asarray(table)[:, 0]
