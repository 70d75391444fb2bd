"""Small argument checks shared by the event core and the Flax modules (no JAX import)."""

from __future__ import annotations

import numpy as np

__all__ = ["is_int"]


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool (``True`` is not a size or a buffer)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
