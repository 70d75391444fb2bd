"""Fixtures of the test suite (the shared helper functions are in ``helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import jax
import pytest
from helpers import BACKENDS, float64

# The tests run under strict dtype promotion (``jax.numpy_dtype_promotion("strict")``): an
# implicit promotion inside the library (a float64 constant widening a float32 layer, a
# bool or int mixed into float arithmetic) is an error here, not a silent change of dtype.
# Except in the modules that run the training step: snnjax.train's own statistics cast
# explicitly, but optax's Adam update (``optimizer.update``) promotes implicitly inside
# optax. A single test opts out with ``@pytest.mark.standard_promotion``.
_STANDARD_PROMOTION_MODULES = (
    "test_train",
    "test_rundir",
    "test_cli",
    "test_tradeoffs",
    "test_checkpoint",
    "test_parallel",
)


@pytest.fixture(autouse=True)
def strict_dtype_promotion(request) -> Iterator[None]:
    module = request.node.module.__name__.rpartition(".")[2]
    if module.startswith(_STANDARD_PROMOTION_MODULES) or request.node.get_closest_marker(
        "standard_promotion"
    ):
        yield
        return
    with jax.numpy_dtype_promotion("strict"):
        yield


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
