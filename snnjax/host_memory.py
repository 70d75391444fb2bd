"""Host memory policy for XLA on CPU: reuse large freed buffers instead of fresh pages.

On CPU, XLA allocates the outputs and scratch buffers of every compiled call with
``malloc``. glibc serves an allocation above its *mmap threshold* (at most 32 MiB with the
default, adaptive policy) with fresh ``mmap`` pages and unmaps them again on ``free``, so a
call whose buffers are larger than that pays, **on every call**, a page fault and a kernel
zero-fill for each 4 KiB page it touches. Large batches hit this: the spike records of the
784 → 800 hidden layer evaluated for 16 noise seeds x 50 digits in one call are a
77 MB array, and ``perf`` attributed ~20 % of that call to page faults
(``docs/performance.md``, section "vmap").

:func:`reuse_large_buffers` raises glibc's mmap threshold (and its trim threshold, which
would otherwise hand the freed top of the heap back) with ``mallopt``, so that such
buffers come from the heap and are reused from one call to the next. Spike times, gradients
and every other result are unchanged (only where memory comes from changes); freed memory
up to ``trim_threshold`` stays with the process instead of going back to the system. It is
process-wide and takes effect for allocations made after the call, so call it first thing
(e.g. at the top of a notebook that vmaps large batches). Only glibc (Linux) has
``mallopt``; elsewhere it does nothing and says so.

Measured (``docs/performance.md``): the forward of that 16-seed call 15-20 % faster (and a
Python loop of 16 batched calls too); no difference on the ``snnjax`` command's paths
(training ``mnist_conv`` and ``mnist_multispike``, the trade-off report), whose buffers stay
below the threshold glibc adapts to by itself, so the command leaves the policy alone.

    >>> import snnjax.host_memory
    >>> snnjax.host_memory.reuse_large_buffers()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["DEFAULT_MMAP_THRESHOLD", "DEFAULT_TRIM_THRESHOLD", "reuse_large_buffers"]

#: Allocations up to this size (bytes) come from the heap once the policy is on.
DEFAULT_MMAP_THRESHOLD = 256 * 2**20
#: Freed memory at the top of the heap that the process keeps (bytes).
DEFAULT_TRIM_THRESHOLD = 2**30

# mallopt parameters (glibc malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc with ``mallopt``, else ``None``."""
    if platform.libc_ver()[0] != "glibc":
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") else None


def reuse_large_buffers(
    mmap_threshold: int = DEFAULT_MMAP_THRESHOLD, trim_threshold: int = DEFAULT_TRIM_THRESHOLD
) -> bool:
    """Serve allocations up to ``mmap_threshold`` bytes from the heap and keep up to
    ``trim_threshold`` bytes of freed heap memory, for this whole process (glibc).

    Args:
      mmap_threshold: bytes; positive, at most ``2**31 - 1`` (an ``int`` of ``mallopt``).
      trim_threshold: bytes; positive, at most ``2**31 - 1``.

    Returns:
      ``True`` when glibc accepted both settings, ``False`` when this C library has no
      ``mallopt`` (not glibc) or refused a value.

    Raises:
      ValueError: a threshold that is not a positive int below ``2**31``.
    """
    for name, value in (("mmap_threshold", mmap_threshold), ("trim_threshold", trim_threshold)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
            raise ValueError(f"{name} must be an int of bytes in (0, 2**31), got {value!r}")
    libc = _glibc()
    if libc is None:
        return False
    # The trim threshold first: setting either one turns off glibc's adaptive thresholds.
    if libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold) != 1:
        return False
    return libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
