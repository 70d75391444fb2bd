"""Helpers shared by NIR export and import: the ``nir`` package, metadata, tolerances."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAPPING_VERSION = "snnjax-cubalif-1"
"""Identifier of the mapping (see :mod:`snnjax.interop.nir`), stored in the graph metadata."""

# Relative tolerance of the checks on imported floating-point parameters (a producer may
# have computed tau_mem = 2 tau_syn or r * w_in in float32).
RTOL = 1e-6


def nir_module():
    """The ``nir`` package, imported on first use (an optional dependency)."""
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "snnjax.nir needs the 'nir' package: pip install 'snnjax[nir]' (or pip install nir)"
        ) from err
    return nir


def meta_value(node, key: str, default: Any = None) -> Any:
    """``node.metadata[key]`` (bytes decoded as UTF-8), or ``default`` if absent."""
    meta = getattr(node, "metadata", None) or {}
    if not isinstance(meta, Mapping) or key not in meta:
        return default
    value = meta[key]
    if isinstance(value, bytes):
        value = value.decode("utf8")
    return value


def layout(shape: tuple[int, ...]) -> str:
    """How a NIR shape maps to snnjax's layout (stored in the Input/Output node metadata)."""
    if len(shape) == 3:
        return "NIR (C, H, W) = snnjax [H, W, C] transposed"
    return "NIR (n,) = snnjax [n]"
