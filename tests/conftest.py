"""Fixtures of the test suite (the shared helper functions are in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import pytest
from helpers import BACKENDS, float64


@pytest.fixture
def x64() -> Iterator[None]:
    """Run the test with ``jax_enable_x64`` on (restored afterwards)."""
    with float64():
        assert jax.config.jax_enable_x64
        yield


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """Parametrise a test over every event backend available here (the suite each
    backend must pass; see docs/extending.md)."""
    return request.param


@pytest.fixture
def brian2_numpy():
    """brian2 with the pure-numpy code generation target (no C compiler needed)."""
    b2 = pytest.importorskip("brian2")
    old_target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        yield b2
    finally:
        b2.prefs.codegen.target = old_target
