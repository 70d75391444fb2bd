"""The Yin-Yang dataset, generated procedurally, and its spike-time encoding.

Kriener, Göltz, Petrovici, "The Yin-Yang dataset", NICE 2022 (arXiv:2102.08211).
Points ``(x, y)`` in the unit square are classified by the yin-yang symbol of
radius ``r_big = 0.5`` centred at ``(0.5, 0.5)``, with dots of radius ``r_small = 0.1``.
Each sample has the four features ``(x, y, 1 - x, 1 - y)`` (the mirrored coordinates
make a network without biases able to solve the task). Labels: 0 = yin, 1 = yang,
2 = dot.

The generator follows the published procedure draw for draw, so the standard split
(train 5000 / validation 1000 / test 1000, seeds 42 / 41 / 40) is reproduced
bit-exactly: for each sample the class is drawn with ``randint(3)``, then points
``2 * r_big * rand(2)`` are drawn until one lies inside the big disc and has that class.
A local :class:`numpy.random.RandomState` is used, never NumPy's global generator.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "YINYANG_CLASS_NAMES",
    "YINYANG_SPLITS",
    "yinyang",
    "yinyang_spike_times",
]

#: Standard split name -> (size, seed) of the published dataset.
YINYANG_SPLITS: dict[str, tuple[int, int]] = {
    "train": (5000, 42),
    "validation": (1000, 41),
    "test": (1000, 40),
}

#: Label -> class name.
YINYANG_CLASS_NAMES: tuple[str, str, str] = ("yin", "yang", "dot")

_R_BIG = 0.5
_R_SMALL = 0.1


def _which_class(x: float, y: float) -> int:
    """Class of a point inside the big disc (0 = yin, 1 = yang, 2 = dot)."""
    d_right = math.sqrt((x - 1.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    d_left = math.sqrt((x - 0.5 * _R_BIG) ** 2 + (y - _R_BIG) ** 2)
    if d_right < _R_SMALL or d_left < _R_SMALL:
        return 2
    criterion1 = d_right <= _R_SMALL
    criterion2 = _R_SMALL < d_left <= 0.5 * _R_BIG
    criterion3 = y > _R_BIG and d_right > 0.5 * _R_BIG
    return int(criterion1 or criterion2 or criterion3)


def _generate(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    samples = np.empty((size, 4), dtype=np.float64)
    labels = np.empty((size,), dtype=np.int64)
    for i in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2.0 * _R_BIG
            if math.sqrt((x - _R_BIG) ** 2 + (y - _R_BIG) ** 2) > _R_BIG:
                continue
            c = _which_class(float(x), float(y))
            if c == goal:
                break
        samples[i] = (x, y, 1.0 - x, 1.0 - y)
        labels[i] = c
    return samples, labels


def yinyang(
    split: str = "train", *, size: int | None = None, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Generates a split of the Yin-Yang dataset.

    With the defaults this returns exactly the published arrays of
    ``lkriener/yin_yang_data_set`` (``publication_data/``).

    Args:
        split: ``"train"`` (5000 samples, seed 42), ``"validation"`` (1000, seed 41)
            or ``"test"`` (1000, seed 40).
        size: number of samples; defaults to the standard size of ``split``.
        seed: seed of the local ``np.random.RandomState``; defaults to the standard
            seed of ``split``.

    Returns:
        ``(samples, labels)``: ``samples`` is ``[N, 4]`` float64 with rows
        ``(x, y, 1 - x, 1 - y)``, every entry in ``[0, 1)``; ``labels`` is ``[N]``
        int64 in ``{0, 1, 2}`` (yin, yang, dot). Classes are drawn uniformly, so each
        holds about a third of the samples.

    Raises:
        ValueError: unknown ``split``, or a negative ``size``.

    Example:
        >>> samples, labels = yinyang("test")
        >>> samples.shape, labels.shape
        ((1000, 4), (1000,))
    """
    if split not in YINYANG_SPLITS:
        raise ValueError(
            f"unknown Yin-Yang split {split!r}; valid splits: {', '.join(YINYANG_SPLITS)}"
        )
    default_size, default_seed = YINYANG_SPLITS[split]
    size = default_size if size is None else int(size)
    seed = default_seed if seed is None else int(seed)
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    return _generate(size, seed)


def yinyang_spike_times(
    samples: np.ndarray,
    *,
    t_early: float = 0.0,
    t_late: float = 0.1,
    bias_time: float = 0.0,
) -> np.ndarray:
    """Encodes Yin-Yang samples as one input spike per feature plus a bias spike.

    The convention of Göltz et al., "Fast and energy-efficient neuromorphic deep
    learning with first-spike times" (Fast & Deep): feature ``f`` in ``[0, 1]`` fires
    at ``t = t_early + f * (t_late - t_early)``, so feature 0 fires at ``t_early`` and
    feature 1 at ``t_late``. A fifth input (index 4) is a bias neuron that always fires
    once at ``bias_time``. Times are in seconds; the defaults suit ``tau_syn`` of the
    order of 0.1 s.

    Args:
        samples: ``[N, 4]`` float features in ``[0, 1]`` (as returned by
            :func:`yinyang`).
        t_early: spike time of feature value 0.
        t_late: spike time of feature value 1.
        bias_time: spike time of the bias input.

    Returns:
        ``[N, 5, 1]`` float64 spike times: the library's spike-train layout
        ``[..., n_in, K]`` with ``K = 1`` and ``+inf`` = no spike (never produced here:
        every input fires exactly once). Inputs 0-3 are the features, input 4 the bias.

    Raises:
        ValueError: ``samples`` is not ``[N, 4]``, holds NaN or values outside
            ``[0, 1]``, or the times are not finite.
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 4:
        raise ValueError(f"samples must have shape [N, 4], got {samples.shape}")
    if np.isnan(samples).any() or (samples < 0.0).any() or (samples > 1.0).any():
        raise ValueError("Yin-Yang features must lie in [0, 1] (and not be NaN)")
    for name, value in (("t_early", t_early), ("t_late", t_late), ("bias_time", bias_time)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value}")
    times = np.empty((samples.shape[0], 5, 1), dtype=np.float64)
    times[:, :4, 0] = t_early + samples * (t_late - t_early)
    times[:, 4, 0] = bias_time
    return times
