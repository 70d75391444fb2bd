"""Deterministic mini-batch index streams.

The order of an epoch depends only on ``(seed, epoch)``, through
``np.random.default_rng([seed, epoch])``, so a run can be resumed at any epoch and
reproduced exactly without carrying generator state around.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["batches", "num_batches"]


def _check(n: int, batch_size: int) -> tuple[int, int]:
    n, batch_size = int(n), int(batch_size)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, got {batch_size}")
    return n, batch_size


def num_batches(n: int, batch_size: int, *, drop_last: bool = True) -> int:
    """Number of batches :func:`batches` yields per epoch.

    Args:
        n: number of samples.
        batch_size: samples per batch.
        drop_last: drop the final incomplete batch.

    Returns:
        ``n // batch_size`` if ``drop_last`` else ``ceil(n / batch_size)``.
    """
    n, batch_size = _check(n, batch_size)
    return n // batch_size if drop_last else -(-n // batch_size)


def batches(
    n: int,
    batch_size: int,
    *,
    seed: int | None = None,
    epoch: int = 0,
    shuffle: bool = True,
    drop_last: bool = True,
) -> Iterator[np.ndarray]:
    """Yields the sample indices of each mini-batch of one epoch.

    Args:
        n: number of samples.
        batch_size: samples per batch.
        seed: non-negative integer seed; required when ``shuffle`` is True.
        epoch: non-negative epoch number; each epoch gets its own permutation
            ``np.random.default_rng([seed, epoch]).permutation(n)``.
        shuffle: permute the samples; if False, batches run through ``0 .. n-1`` in
            order and ``seed``/``epoch`` are ignored.
        drop_last: drop the final incomplete batch (so every batch, and every compiled
            step, has shape ``[batch_size]``).

    Yields:
        ``[batch_size]`` int64 index arrays (the last one shorter if ``drop_last`` is
        False). Within an epoch no index repeats; together they cover all ``n`` indices
        (all but ``n % batch_size`` when ``drop_last``).

    Raises:
        ValueError: bad ``n``/``batch_size``, or ``shuffle`` without a ``seed``.

    Example:
        >>> [b.tolist() for b in batches(5, 2, shuffle=False)]
        [[0, 1], [2, 3]]
    """
    n, batch_size = _check(n, batch_size)
    if shuffle:
        if seed is None:
            raise ValueError("batches(shuffle=True) needs an explicit seed")
        if int(seed) < 0 or int(epoch) < 0:
            raise ValueError(f"seed and epoch must be >= 0, got seed={seed}, epoch={epoch}")
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(n)
    else:
        order = np.arange(n, dtype=np.int64)
    order = order.astype(np.int64, copy=False)
    for i in range(num_batches(n, batch_size, drop_last=drop_last)):
        yield order[i * batch_size : (i + 1) * batch_size]
