"""Shared helpers of the tests: float64 switch, event backends, random layers, oracle calls.

Imported by the test modules (``from helpers import ...``); ``conftest.py`` holds only the
fixtures. Everything here is plain NumPy around :mod:`snnjax.lif.reference` (the float64
oracle) plus one jitted entry point of :func:`snnjax.lif_layer`, so that the test files
compile each backend only once per (shape, dtype, max_spikes).

Random layers are scale-free: ``tau_syn`` is drawn per layer, input times are multiples of
``tau_syn`` and weights multiples of ``theta / tau_mem`` (a single input of weight
``4 theta / tau_mem`` makes a PSP that just touches threshold), so one generator covers the
paper's ``tau_syn = 0.13 s`` and the short ``tau_syn = 5 ms`` of the oracle's own tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import jax
import numpy as np

import snnjax
from snnjax.lif.backends import available_backends
from snnjax.lif.reference import simulate_layer

# --------------------------------------------------------------------------------------
# precision
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def float64() -> Iterator[None]:
    """Enable float64 in JAX inside the block and restore the previous setting after it.

    ``jax.enable_x64`` is a config context manager in jax >= 0.7 (it restores the old
    value on exit); the x64 flag is part of the jit cache key, so float32 and float64
    traces of the same function never mix.
    """
    with jax.enable_x64(True):
        yield


# --------------------------------------------------------------------------------------
# event backends
# --------------------------------------------------------------------------------------

# Every registered backend that can run here ("ffi" needs a C++ compiler): the ``backend``
# fixture (conftest.py) runs the parametrised suite on each of them. ``None`` is the
# automatic choice (on CPU: "ffi" where it builds).
BACKENDS = available_backends()

# One compiled entry point for all test files (max_spikes, max_input_events and the
# backend are static; t_max and the LIFParams are traced, so sweeping them does not
# recompile).
LIF_LAYER_JIT = jax.jit(
    snnjax.lif_layer, static_argnames=("max_spikes", "max_input_events", "backend")
)


# --------------------------------------------------------------------------------------
# random layers
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Layer:
    """A batch of input samples for one dense layer with shared weights and parameters.

    Attributes:
      times: ``[B, n_in, K_in]`` float64 input spike trains (s): >= 0, sorted per row,
        ``+inf`` padded.
      weights: ``[n_in, n_out]`` float64.
      tau_syn, theta, delta_theta, t_max: floats (s, potential, potential, s).
    """

    times: np.ndarray
    weights: np.ndarray
    tau_syn: float
    theta: float
    delta_theta: float
    t_max: float

    @property
    def params(self) -> snnjax.LIFParams:
        return snnjax.LIFParams(self.tau_syn, self.theta, self.delta_theta)

    @property
    def ref_kw(self) -> dict:
        return dict(tau_syn=self.tau_syn, theta=self.theta, delta_theta=self.delta_theta)

    def rounded(self, dtype=np.float32) -> Layer:
        """The same layer with every number rounded to ``dtype`` (kept as float64).

        The oracle run on the rounded layer sees exactly the numbers a ``dtype`` kernel
        sees, so any remaining difference is the kernel's own rounding.
        """
        r = lambda v: np.asarray(v, dtype).astype(np.float64)
        return Layer(
            times=r(self.times),
            weights=r(self.weights),
            tau_syn=float(r(self.tau_syn)),
            theta=float(r(self.theta)),
            delta_theta=float(r(self.delta_theta)),
            t_max=float(r(self.t_max)),
        )

    def replace(self, **changes) -> Layer:
        return dataclasses.replace(self, **changes)


def random_layer(
    rng: np.random.Generator,
    *,
    batch: int = 4,
    n_in: int = 8,
    k_in: int = 4,
    n_out: int = 5,
    tau_syn: float | None = None,
    theta: float | None = None,
    mean_w: float = 1.0,
    std_w: float = 2.5,
    t_in: float = 6.0,
    t_max: float | None = None,
    p_cut: float = 0.3,
) -> Layer:
    """A random layer of fixed shape ``[batch, n_in, k_in] -> n_out`` from a NumPy generator.

    * ``tau_syn`` log-uniform in [3 ms, 130 ms] and ``theta`` in [0.2, 1.5] unless given;
      ``delta_theta`` is ``theta`` times 1, 0.5 or 1.5.
    * weights ``~ N(mean_w, std_w) * theta / tau_mem``: mixed signs, strong enough that
      many neurons fire several spikes (and overflow a small buffer).
    * each input row has 0-``k_in`` spikes (``+inf`` padding), uniform in
      ``[0, t_in * tau_syn)``; some times are copied within a row and across rows, so
      exactly equal events occur in most samples.
    * ``t_max`` is ``16 tau_syn`` or, with probability ``p_cut``, a cut in ``[2, 8] tau_syn``
      (so some inputs and some spikes lie beyond it).
    """
    if tau_syn is None:
        tau_syn = float(np.exp(rng.uniform(np.log(3e-3), np.log(0.13))))
    if theta is None:
        theta = float(rng.uniform(0.2, 1.5))
    delta_theta = float(theta * rng.choice([1.0, 0.5, 1.5]))
    if t_max is None:
        cut = rng.random() < p_cut
        t_max = float(tau_syn * (rng.uniform(2.0, 8.0) if cut else 16.0))
    tau_mem = 2.0 * tau_syn
    weights = rng.normal(mean_w, std_w, (n_in, n_out)) * theta / tau_mem

    times = rng.uniform(0.0, t_in * tau_syn, (batch, n_in, k_in))
    n_spikes = rng.integers(1, k_in + 1, (batch, n_in))
    n_spikes[rng.random((batch, n_in)) < 0.1] = 0  # a few silent inputs
    times[np.arange(k_in)[None, None, :] >= n_spikes[..., None]] = np.inf
    for b in range(batch):
        finite = np.argwhere(np.isfinite(times[b]))
        for _ in range(int(rng.integers(0, 4))):  # exactly equal events, across or within rows
            if len(finite) >= 2:
                (i, k), (j, m) = finite[rng.choice(len(finite), 2, replace=False)]
                times[b, i, k] = times[b, j, m]
    times = np.sort(times, axis=-1)
    return Layer(
        times=times,
        weights=weights,
        tau_syn=tau_syn,
        theta=theta,
        delta_theta=delta_theta,
        t_max=t_max,
    )


# --------------------------------------------------------------------------------------
# oracle
# --------------------------------------------------------------------------------------


def reference(layer: Layer, max_spikes: int, **overrides) -> tuple[np.ndarray, np.ndarray]:
    """Oracle spike times ``[B, n_out, max_spikes]`` and ``n_dropped`` ``[B, n_out]``.

    ``overrides`` replace ``tau_syn, theta, delta_theta, t_max`` of the layer.
    """
    kw = dict(layer.ref_kw, t_max=layer.t_max)
    kw.update(overrides)
    outs = [simulate_layer(t, layer.weights, max_spikes=max_spikes, **kw) for t in layer.times]
    return np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs])


def spike_counts(times: np.ndarray, n_dropped: np.ndarray) -> np.ndarray:
    """All spikes fired per neuron (stored + dropped)."""
    return np.isfinite(times).sum(-1) + np.asarray(n_dropped)


def ill_conditioned(layer: Layer, max_spikes: int, rel: float) -> np.ndarray:
    """``[B, n_out]`` bool: neurons whose spike count changes under a relative perturbation.

    The oracle is re-run with ``theta * (1 +- rel)`` and ``t_max +- rel * tau_syn``. Raising
    ``theta`` delays every upward crossing by ``rel * theta / (du/dt)`` and lowering it
    advances them, so the count changes exactly when the trajectory comes within ~``rel``
    of a decision: a grazing crossing (``x`` of the closed form small, a spike that can
    vanish), a near miss (a maximum of ``u`` just below ``theta``, a spike that can appear),
    a crossing close to the next input time (the candidate can move to the other side of
    the interval boundary), or close to ``t_max``. Those decisions are not determined by
    a kernel computing in a lower precision, so comparisons exclude them.
    """
    base = spike_counts(*reference(layer, max_spikes))
    bad = np.zeros(base.shape, bool)
    for over in (
        dict(theta=layer.theta * (1 + rel)),
        dict(theta=layer.theta * (1 - rel)),
        dict(t_max=layer.t_max + rel * layer.tau_syn),
        dict(t_max=layer.t_max - rel * layer.tau_syn),
    ):
        bad |= spike_counts(*reference(layer, max_spikes, **over)) != base
    return bad


def run_layer(
    layer: Layer, max_spikes: int, dtype=np.float64, backend: str | None = None, **kw
) -> snnjax.LayerOutput:
    """The jitted layer on ``layer`` in ``dtype`` (float64 needs :func:`float64` active)
    with the event ``backend`` (``None``: the automatic choice)."""
    cast = lambda v: np.asarray(v, dtype)
    params = snnjax.LIFParams(cast(layer.tau_syn), cast(layer.theta), cast(layer.delta_theta))
    out = LIF_LAYER_JIT(
        cast(layer.times),
        cast(layer.weights),
        params,
        max_spikes=max_spikes,
        t_max=cast(layer.t_max),
        backend=backend,
        **kw,
    )
    return jax.tree_util.tree_map(np.asarray, out)


def shared_data_dir():
    """The project's offline datasets: ``$SNNJAX_TEST_SHARED_DATA``, else ``../shared/data``
    beside the repository (where CI and the developers' machines put it)."""
    from pathlib import Path

    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("SNNJAX_TEST_SHARED_DATA", default))


def assert_backend_equal(backend: str, actual, expected, rtol: float = 1e-5) -> None:
    """Equality of two results of ``backend`` computed two ways (batched vs looped, bounded
    vs unbounded): bitwise for the event loops; to rounding (``rtol``) for
    ``"parallel"``, whose sums are blocked matmuls over the event axis that XLA may
    accumulate in another order once shapes or batching change."""
    if backend == "parallel":
        np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=rtol, atol=1e-6)
    else:
        np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected))
