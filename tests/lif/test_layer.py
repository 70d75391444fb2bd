"""Forward pass of :func:`snnjax.lif_layer` against the float64 oracle and Brian2.

Almost every call goes through one jitted entry point with one array shape
(``[4, 8, 4] -> 5`` neurons), so the whole file compiles the kernel only a handful of
times; hand-built cases are embedded into that shape (silent padding rows and columns).
"""

from __future__ import annotations

import contextlib
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    LIF_LAYER_JIT,
    Layer,
    float64,
    ill_conditioned,
    random_layer,
    reference,
    run_layer,
    spike_counts,
)

import snnjax
from snnjax.lif.reference import membrane_potential, simulate_layer

B, N_IN, K_IN, N_OUT = 4, 8, 4, 5  # the standard shape of this file
K = 8  # the standard buffer


def embed(samples, weights, *, tau_syn=5e-3, theta=1.0, delta_theta=None, t_max=0.08) -> Layer:
    """Pad hand-built ``[n_in', K']`` samples and ``[n_in', n_out']`` weights to the standard
    shape (extra inputs are empty, extra neurons have zero weights, extra samples are
    empty)."""
    times = np.full((B, N_IN, K_IN), np.inf)
    for b, s in enumerate(samples):
        s = np.asarray(s, float)
        times[b, : s.shape[0], : s.shape[1]] = s
    w = np.zeros((N_IN, N_OUT))
    weights = np.asarray(weights, float)
    w[: weights.shape[0], : weights.shape[1]] = weights
    return Layer(
        times=times,
        weights=w,
        tau_syn=tau_syn,
        theta=theta,
        delta_theta=theta if delta_theta is None else delta_theta,
        t_max=t_max,
    )


def first_spike_scale(layer: Layer, sample: int = 0) -> np.ndarray:
    """``[n_out]`` factor ``s`` such that neuron ``i`` of ``sample`` fires iff its weight
    column is multiplied by more than ``s`` (``nan`` if it never fires).

    Before its first spike ``u`` is linear in the weights, so "fires at least once" is
    monotone in a positive scale of the column; bisection finds the tangency to ~1e-15.
    """
    one = layer.replace(times=layer.times[sample : sample + 1])

    def fires(scale):
        lay = one.replace(weights=one.weights * scale[None, :])
        return spike_counts(*reference(lay, 1))[0] > 0

    lo, hi = np.zeros(N_OUT), np.ones(N_OUT)
    for _ in range(12):
        f = fires(hi)
        hi = np.where(f, hi, 4 * hi)
    never = ~fires(hi)
    for _ in range(55):
        mid = 0.5 * (lo + hi)
        f = fires(mid)
        lo, hi = np.where(f, lo, mid), np.where(f, mid, hi)
    return np.where(never, np.nan, hi)


def near_grazing_layers(seed: int, n: int) -> list[Layer]:
    """Random layers whose neurons (for sample 0) sit at ``1 +- 10**-U(1, 9)`` times the
    weight scale at which they first fire: the first spike of every such neuron is (nearly)
    a tangency of ``u`` to ``theta`` (``x`` of the closed form -> 0), or a near miss."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        lay = random_layer(rng, p_cut=0.0)
        s = first_spike_scale(lay)
        if np.isnan(s).all():
            continue
        offset = rng.choice([-1.0, 1.0], N_OUT) * 10.0 ** -rng.uniform(1, 9, N_OUT)
        scale = np.where(np.isnan(s), 1.0, s * (1 + offset))
        out.append(lay.replace(weights=lay.weights * scale[None, :]))
    return out


RANDOM_LAYERS = 100  # x 4 samples = 400 random layers compared in each precision


@pytest.fixture(scope="module")
def random_layers() -> list[Layer]:
    rng = np.random.default_rng(20240601)
    return [random_layer(rng) for _ in range(RANDOM_LAYERS)]


@pytest.fixture(scope="module")
def grazing_layers() -> list[Layer]:
    return near_grazing_layers(7, 10)


def assert_same_spikes(out, ref_times, ref_dropped, atol, where=None):
    """Identical spike pattern (finite slots) and ``n_dropped``; times within ``atol``."""
    times = np.asarray(out.times)
    if where is None:
        where = np.ones(ref_dropped.shape, bool)
    np.testing.assert_array_equal(np.isfinite(times)[where], np.isfinite(ref_times)[where])
    np.testing.assert_array_equal(np.asarray(out.n_dropped)[where], ref_dropped[where])
    f = np.isfinite(ref_times) & where[..., None]
    np.testing.assert_allclose(times[f], ref_times[f], rtol=0, atol=atol)
    assert not np.isnan(times).any()


# --------------------------------------------------------------------------------------
# the oracle
# --------------------------------------------------------------------------------------


def test_matches_oracle_float64(x64, backend, random_layers, grazing_layers):
    n_spikes = n_overflowing = n_equal = n_cut = max_count = n_samples = 0
    for lay in random_layers + grazing_layers:
        out = run_layer(lay, K, backend=backend)
        assert out.times.dtype == np.float64
        ref_t, ref_d = reference(lay, K)
        assert_same_spikes(out, ref_t, ref_d, atol=1e-9)
        np.testing.assert_array_equal(out.n_input_overflow, 0)
        # the TTFS layer (buffer of one) is the first column of the same simulation
        ttfs = run_layer(lay, 1, backend=backend)
        np.testing.assert_array_equal(np.isfinite(ttfs.times[..., 0]), np.isfinite(ref_t[..., 0]))
        np.testing.assert_allclose(ttfs.times[..., 0], ref_t[..., 0], rtol=0, atol=1e-9)
        np.testing.assert_array_equal(ttfs.n_dropped, np.maximum(spike_counts(ref_t, ref_d) - 1, 0))

        counts = spike_counts(ref_t, ref_d)
        n_samples += lay.times.shape[0]
        n_spikes += np.isfinite(ref_t).sum()
        n_overflowing += (ref_d > 0).sum()
        max_count = max(max_count, counts.max())
        n_cut += (lay.times[np.isfinite(lay.times)] >= lay.t_max).any()
        for t in lay.times:
            f = t[np.isfinite(t)]
            n_equal += len(f) - len(np.unique(f))
    # the comparison is not vacuous: 440 layers, thousands of spikes, every feature used
    assert n_samples >= 400
    assert n_spikes >= 5000
    assert n_overflowing >= 200
    assert max_count >= 30
    assert n_equal >= 200
    assert n_cut >= 10


def test_grazing_layers_are_grazing(grazing_layers):
    """The near-grazing set really contains crossings that a perturbation of 1e-4 flips."""
    n_ill = sum(ill_conditioned(lay, K, 1e-4)[0].sum() for lay in grazing_layers)
    assert n_ill >= 10


def test_matches_oracle_float32(backend, random_layers, grazing_layers):
    """float32 kernel vs float64 oracle run on the float32-rounded layer.

    In float32 some spike decisions are not determined by the data: a crossing whose
    discriminant ``b**2 - 4ac`` is within float32 rounding of 0 (a grazing crossing or a
    near miss, slope ``x -> 0``), or whose time is within rounding of an interval boundary
    (the next input time, where the candidate is rejected and lost, or ``t_max``), may be
    decided either way. Such neurons are excluded *by the oracle alone*: a neuron is
    excluded iff its spike count changes when ``theta`` is scaled by ``1 +- 1e-4`` or
    ``t_max`` moves by ``+- 1e-4 tau_syn``; ``1e-4`` is ~1700 float32 epsilons, far more than
    the kernel's rounding of ``a``, ``b`` and the interval ends. Every other neuron must have
    the same spike count and ``n_dropped`` and times within 1e-5 s. The random layers
    lose (almost) nothing to the exclusion; the near-grazing layers are built to lose some.
    """
    rel = 1e-4
    excluded = {"random": 0, "grazing": 0}
    kept = {"random": 0, "grazing": 0}
    n_spikes = 0
    for kind, layers in (("random", random_layers), ("grazing", grazing_layers)):
        for lay in layers:
            lay32 = lay.rounded(np.float32)
            out = run_layer(lay32, K, np.float32, backend=backend)
            assert out.times.dtype == np.float32
            ref_t, ref_d = reference(lay32, K)
            keep = ~ill_conditioned(lay32, K, rel)
            assert_same_spikes(out, ref_t, ref_d, atol=1e-5, where=keep)
            excluded[kind] += (~keep).sum()
            kept[kind] += keep.sum()
            n_spikes += np.isfinite(ref_t[keep]).sum()
    assert excluded["random"] <= 0.01 * kept["random"]  # the exclusion is rare
    assert excluded["grazing"] >= 5  # ... and really exercised
    assert kept["random"] >= 1900
    assert n_spikes >= 5000


# --------------------------------------------------------------------------------------
# buffer, input-event bound, t_max, long simulations, empty inputs
# --------------------------------------------------------------------------------------


def strong_layer() -> Layer:
    """Hand-built: several neurons firing many spikes (buffer of K=8 overflows)."""
    x = [[0.001, 0.004, np.inf], [0.002, 0.002, 0.009], [0.003, np.inf, np.inf]]
    w = [[600.0, 500.0, 900.0, 300.0], [300.0, 800.0, 900.0, -50.0], [400.0, -100.0, 900.0, 200.0]]
    return embed([x, np.array(x) + 0.01, [[0.0]], [[0.02, 0.02]]], w, t_max=0.1)


def test_buffer_overflow_counts_dropped_spikes(backend, x64):
    lay = strong_layer()
    full_t, full_d = reference(lay, 200)
    assert (full_d == 0).all()
    total = np.isfinite(full_t).sum(-1)
    assert total.max() > 20
    assert (total[:2, :3] > K).all()
    out = run_layer(lay, K, backend=backend)
    np.testing.assert_allclose(out.times, full_t[..., :K], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(out.n_dropped, np.maximum(total - K, 0))
    assert out.n_dropped.dtype == np.int32
    ttfs = run_layer(lay, 1, backend=backend)
    np.testing.assert_allclose(ttfs.times[..., 0], full_t[..., 0], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ttfs.n_dropped, np.maximum(total - 1, 0))


def test_max_input_events(backend, x64, random_layers):
    n_checked_small = 0
    for lay in random_layers[:30]:
        n_active = (np.isfinite(lay.times) & (lay.times < lay.t_max)).sum(axis=(1, 2))
        full = run_layer(lay, K, backend=backend)
        # a bound >= the active events of every sample: same result, no overflow
        if n_active.max() > 31:
            continue
        big = run_layer(lay, K, max_input_events=31, backend=backend)
        np.testing.assert_array_equal(big.n_input_overflow, 0)
        np.testing.assert_array_equal(np.isfinite(big.times), np.isfinite(full.times))
        np.testing.assert_allclose(big.times, full.times, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(big.n_dropped, full.n_dropped)
        # a bound that is too small: the exact overflow count, and the earliest events kept
        small = run_layer(lay, K, max_input_events=10, backend=backend)
        np.testing.assert_array_equal(small.n_input_overflow, np.maximum(n_active - 10, 0))
        for b in range(B):
            t = np.where(lay.times[b] < lay.t_max, lay.times[b], np.inf)
            order = np.sort(t.ravel())
            if n_active[b] > 10 and order[9] == order[10]:
                continue  # which of two equal events is kept is unspecified
            kept = np.where(t <= order[9], t, np.inf)
            ref_t, ref_d = simulate_layer(
                np.sort(kept, axis=1), lay.weights, max_spikes=K, t_max=lay.t_max, **lay.ref_kw
            )
            np.testing.assert_array_equal(np.isfinite(small.times[b]), np.isfinite(ref_t))
            np.testing.assert_allclose(small.times[b], ref_t, rtol=0, atol=1e-9)
            np.testing.assert_array_equal(small.n_dropped[b], ref_d)
            n_checked_small += n_active[b] > 10
    assert n_checked_small >= 50


def test_t_max_cut_off(backend, x64):
    lay = strong_layer()
    full, _ = reference(lay, K)
    s = full[0, 0][np.isfinite(full[0, 0])]
    assert len(s) >= 5
    cuts = [
        0.5 * (s[2] + s[3]),  # between spikes 3 and 4
        s[2] + 1e-12,  # just after spike 3: it is kept (t* <= t_max)
        s[2] - 1e-9,  # just before it: it is not
        0.0005,  # before the first input: nothing
        0.0035,
        0.012,
        0.025,
    ]  # between and after inputs
    for t_max in cuts:
        cut = lay.replace(t_max=t_max)
        ref_t, ref_d = reference(cut, K)
        out = run_layer(cut, K, backend=backend)
        assert_same_spikes(out, ref_t, ref_d, atol=1e-9)
        assert (out.times[np.isfinite(out.times)] <= t_max).all()
    out = run_layer(lay.replace(t_max=cuts[0]), K, backend=backend)
    np.testing.assert_allclose(out.times[0, 0, :3], s[:3], rtol=0, atol=1e-9)
    assert np.isinf(out.times[0, 0, 3:]).all()
    assert np.isfinite(run_layer(lay.replace(t_max=cuts[1]), K, backend=backend).times[0, 0, 2])
    assert np.isinf(run_layer(lay.replace(t_max=cuts[2]), K, backend=backend).times[0, 0, 2])
    assert np.isinf(run_layer(lay.replace(t_max=cuts[3]), K, backend=backend).times).all()

    # inputs at or after t_max change nothing, however strong
    t_max = cuts[0]
    times = lay.times.copy()
    times[:, 7, :2] = [t_max, t_max + 1e-3]
    weights = lay.weights.copy()
    weights[7] = 1e5
    more = run_layer(lay.replace(times=times, weights=weights, t_max=t_max), K, backend=backend)
    base = run_layer(lay.replace(t_max=t_max), K, backend=backend)
    np.testing.assert_array_equal(more.times, base.times)
    np.testing.assert_array_equal(more.n_input_overflow, 0)


def test_candidate_beyond_t_max_does_not_stop_the_neuron(backend, x64):
    tau_syn, theta = 5e-3, 1.0
    w_crit = 4 * theta / (2 * tau_syn)
    alone = embed([[[0.0]]], [[1.0001 * w_crit]], t_max=1.0)
    t_a = reference(alone, K)[0][0, 0, 0]  # input A alone crosses late, near its PSP peak
    assert np.isfinite(t_a)
    t_max, t_b = 0.8 * t_a, 0.5 * t_a
    a_only = run_layer(alone.replace(t_max=t_max), K, backend=backend)
    assert np.isinf(a_only.times).all()
    both = embed([[[0.0], [t_b]]], [[1.0001 * w_crit], [3 * w_crit]], t_max=t_max)
    out = run_layer(both, K, backend=backend)
    ref_t, ref_d = reference(both, K)
    assert_same_spikes(out, ref_t, ref_d, atol=1e-9)
    assert t_b < out.times[0, 0, 0] <= t_max


def test_equal_time_events_are_integrated_together(backend, x64):
    # +w and -w at the same instant cancel exactly, whichever comes first in the merged
    # event list; processing the excitatory event alone first would fire a spurious spike.
    w = 5 * 4 / 0.01  # five times the weight whose PSP just touches threshold
    weights = [[w, -w, w, w], [-w, w, 0, 0], [0, 0, -2 * w, 0]]
    s0 = [[0.01, np.inf], [0.01, np.inf], [np.inf, np.inf]]  # rows 0 and 1 together
    s1 = [[0.01, 0.01], [np.inf, np.inf], [0.01, np.inf]]  # row 0 twice, and row 2
    lay = embed([s0, s1], weights, t_max=0.1)
    out = run_layer(lay, K, backend=backend)
    assert np.isinf(out.times[0, :2]).all()  # w - w and -w + w: silent
    assert np.isinf(out.times[1, 2]).all()  # 2w - 2w: silent
    assert np.isfinite(out.times[0, 2:4, 0]).all()
    assert np.isfinite(out.times[1, [0, 3], 0]).all()
    ref_t, ref_d = reference(lay, K)
    assert_same_spikes(out, ref_t, ref_d, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_input_gives_no_spikes(backend, dtype):
    lay = embed([], np.ones((N_IN, N_OUT)) * 1e4)
    late = lay.replace(times=np.full((B, N_IN, K_IN), 0.5))  # all inputs after t_max
    with float64() if dtype == np.float64 else contextlib.nullcontext():
        for case in (lay, late):
            out = run_layer(case, K, dtype, backend=backend)
            assert out.times.dtype == dtype
            assert np.isinf(out.times).all()
            assert (out.times > 0).all()
            np.testing.assert_array_equal(out.n_dropped, 0)
            np.testing.assert_array_equal(out.n_input_overflow, 0)


def test_long_simulation_float64(backend, x64, random_layers):
    shift = 1000.0  # exp(t/tau_syn) of absolute times overflows float64 beyond ~709 tau_syn
    n_spikes = 0
    for lay in random_layers[:30]:
        moved = lay.replace(times=lay.times + shift, t_max=lay.t_max + shift)
        keep = ~ill_conditioned(lay, K, 1e-8)
        out = run_layer(moved, K, backend=backend)
        ref_t, ref_d = reference(lay, K)
        assert_same_spikes(out, ref_t + shift, ref_d, atol=1e-9, where=keep)
        ref_mt, ref_md = reference(moved, K)
        assert_same_spikes(out, ref_mt, ref_md, atol=1e-9, where=keep)
        n_spikes += np.isfinite(ref_t[keep]).sum()
        assert keep.mean() > 0.95
    assert n_spikes >= 300


def test_long_simulation_float32(backend):
    # tau_syn = 0.13 s: exp(100 / 0.13) = e^769 overflows float32 (and float64); the kernel
    # must work relative to the event times. Input times lie on a 2**-12 s grid so that
    # t + 100 is exact in float32; the outputs near 100 s carry their own rounding of
    # ulp(100) = 2**-17 s ~ 7.6e-6 s, hence the tolerance of 4 ulp.
    rng = np.random.default_rng(11)
    shift, tol = 100.0, 4 * 2.0**-17
    n_spikes = 0
    for _ in range(15):
        lay = random_layer(rng, tau_syn=0.13, p_cut=0.0).rounded(np.float32)
        grid = 2.0**-12
        lay = lay.replace(times=np.round(lay.times / grid) * grid, t_max=2.0)
        moved = lay.replace(times=lay.times + shift, t_max=lay.t_max + shift)
        assert (np.asarray(moved.times, np.float32) == moved.times).all()
        keep = ~ill_conditioned(lay, K, 1e-3)
        out = run_layer(moved, K, np.float32, backend=backend)
        assert np.isfinite(out.times).any()
        assert not np.isnan(out.times).any()
        ref_t, ref_d = reference(lay, K)
        assert_same_spikes(out, ref_t + shift, ref_d, atol=tol, where=keep)
        n_spikes += np.isfinite(ref_t[keep]).sum()
    assert n_spikes >= 300


# --------------------------------------------------------------------------------------
# Brian2: an independent clock-driven simulator of the same ODEs
# --------------------------------------------------------------------------------------


def _brian2_layers(rng, tau_syn, theta, dt, t_end):
    """Six random layers whose inputs lie on Brian's grid and whose counts are stable."""
    layers = []
    while len(layers) < 6:
        lay = random_layer(rng, tau_syn=tau_syn, theta=theta, t_max=t_end - 5 * dt)
        # inputs on Brian's grid (distinct within a row) and away from t_end
        times = np.round(np.minimum(lay.times, 0.025) / dt) * dt
        times[~np.isfinite(lay.times)] = np.inf
        if any(len(np.unique(r[np.isfinite(r)])) < np.isfinite(r).sum() for s in times for r in s):
            continue
        lay = lay.replace(times=times)
        # non-grazing: counts stable under a 2 % change of theta (Brian's grid and its late
        # resets move u by far less than that)
        if ill_conditioned(lay, 100, 2e-2).any():
            continue
        layers.append(lay)
    return layers


def _brian2_spikes(b2, layers, tau_syn, theta, dt, t_end):
    """Runs all ``layers`` as one flat Brian network (every (layer, sample, neuron) gets its
    own neuron); returns the monitor's ``(neuron indices, spike times (s))``."""
    tau_mem = 2 * tau_syn
    gen_i, gen_t, syn_i, syn_j, syn_w, dtheta = [], [], [], [], [], []
    n_src = n_tgt = 0
    for lay in layers:
        for s in lay.times:
            for j, k in np.argwhere(np.isfinite(s)):
                gen_i.append(n_src + j)
                gen_t.append(s[j, k])
            for j in range(N_IN):
                for i in range(N_OUT):
                    syn_i.append(n_src + j)
                    syn_j.append(n_tgt + i)
                    syn_w.append(lay.weights[j, i])
            dtheta += [lay.delta_theta] * N_OUT
            n_src += N_IN
            n_tgt += N_OUT
    b2.defaultclock.dt = dt * b2.second
    inputs = b2.SpikeGeneratorGroup(n_src, np.array(gen_i), np.array(gen_t) * b2.second)
    neurons = b2.NeuronGroup(
        n_tgt,
        """
        du/dt = -u/tau_mem + I : 1
        dI/dt = -I/tau_syn : Hz
        dtheta : 1 (constant)
        """,
        threshold="u > theta",
        reset="u -= dtheta",
        method="exact",
        namespace={"tau_mem": tau_mem * b2.second, "tau_syn": tau_syn * b2.second, "theta": theta},
    )
    neurons.dtheta = np.array(dtheta)
    syn = b2.Synapses(inputs, neurons, "w : Hz", on_pre="I_post += w")
    syn.connect(i=np.array(syn_i), j=np.array(syn_j))
    syn.w = np.array(syn_w) * b2.Hz
    mon = b2.SpikeMonitor(neurons)
    b2.Network(inputs, neurons, syn, mon).run(t_end * b2.second)
    return np.asarray(mon.i[:]), np.asarray(mon.t / b2.second)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_brian2(x64, brian2_numpy):
    b2 = brian2_numpy
    tau_syn, theta, dt, t_end = 5e-3, 1.0, 1e-5, 0.06
    tau_mem = 2 * tau_syn
    layers = _brian2_layers(np.random.default_rng(31), tau_syn, theta, dt, t_end)
    b_i, b_t = _brian2_spikes(b2, layers, tau_syn, theta, dt, t_end)

    n_spikes = tgt = 0
    for lay in layers:
        out = run_layer(lay, 100)  # big buffer: nothing dropped
        np.testing.assert_array_equal(out.n_dropped, 0)
        for s in range(B):
            for i in range(N_OUT):
                r = out.times[s, i][np.isfinite(out.times[s, i])]
                b = np.sort(b_t[b_i == tgt])
                b = b[b <= lay.t_max]
                tgt += 1
                assert len(b) == len(r), (s, i, r, b)
                if len(r) == 0:
                    continue
                # Brian applies input events at the end of a step and labels a spike with
                # the start of the step in which u first exceeds theta: 0 <= b - r < dt for
                # a first spike. Each Brian reset acts up to (dt + its own error) late,
                # which leaves u higher by delta_theta/tau_mem * lateness * decay and
                # advances later spikes by that over du/dt at the spike.
                h = 1e-9
                u_before = membrane_potential(
                    r - h, lay.times[s], lay.weights, out.times[s], **lay.ref_kw
                )[:, i]
                slope = (theta - u_before) / h
                assert (slope > 0).all()
                bound = []
                for k in range(len(r)):
                    late = sum(
                        lay.delta_theta
                        / tau_mem
                        * math.exp(-(r[k] - r[m]) / tau_mem)
                        * (bound[m] + dt)
                        for m in range(k)
                    )
                    bound.append(dt + 1.5 * late / slope[k])
                err = b - r
                assert (err >= -0.05 * dt).all(), (s, i, err / dt)
                assert (err <= np.array(bound) + 0.05 * dt).all(), (s, i, err / dt, bound)
                n_spikes += len(r)
    assert n_spikes >= 50


# --------------------------------------------------------------------------------------
# validation and dtypes
# --------------------------------------------------------------------------------------

P = snnjax.LIFParams(tau_syn=5e-3, theta=1.0)


def _good():
    return np.zeros((2, 3, 2), np.float32) + [0.001, 0.002], np.ones((3, 4), np.float32)


@pytest.mark.parametrize(
    ("times", "weights", "match"),
    [
        (np.zeros((2, 3, 2)), np.ones((4, 4)), "input neurons"),  # n_in mismatch
        (np.zeros((2, 3, 2)), np.ones(3), "weights"),  # 1-D weights
        (np.zeros(3), np.ones((3, 4)), "input_times"),  # 1-D input
        (np.full((2, 3, 2), np.nan), np.ones((3, 4)), "NaN"),
        (np.full((2, 3, 2), -0.001), np.ones((3, 4)), "negative"),
        (np.array([[[0.002, 0.001]]] * 2), np.ones((1, 4)), "sorted"),
        (np.array([[[np.inf, 0.001]]]), np.ones((1, 4)), "sorted"),  # inf padding first
        (np.zeros((2, 3, 2)), np.full((3, 4), np.nan), "weights"),
    ],
)
def test_invalid_arrays_raise(times, weights, match):
    with pytest.raises(ValueError, match=match):
        snnjax.lif_layer(times, weights, P, max_spikes=2, t_max=0.1)


def test_invalid_types_raise():
    times, weights = _good()
    with pytest.raises(TypeError):
        snnjax.lif_layer(times.astype(np.int32), weights, P, max_spikes=2, t_max=0.1)
    with pytest.raises(TypeError):
        snnjax.lif_layer(times, weights.astype(np.int32), P, max_spikes=2, t_max=0.1)
    with pytest.raises(TypeError):
        snnjax.lif_layer(times, weights, {"tau_syn": 5e-3, "theta": 1.0}, max_spikes=2, t_max=0.1)


@pytest.mark.parametrize("max_spikes", [0, -1, 2.0, 2.5, "3", None])
def test_bad_max_spikes_raise(max_spikes):
    times, weights = _good()
    with pytest.raises(ValueError, match="max_spikes"):
        snnjax.lif_layer(times, weights, P, max_spikes=max_spikes, t_max=0.1)


@pytest.mark.parametrize("kw", [dict(t_max=0.0), dict(t_max=-1.0), dict(max_input_events=0)])
def test_bad_t_max_and_event_bound_raise(kw):
    times, weights = _good()
    with pytest.raises(ValueError, match=r"t_max must be > 0|max_input_events must be"):
        snnjax.lif_layer(times, weights, P, max_spikes=2, **{"t_max": 0.1, **kw})


@pytest.mark.parametrize(
    "kw",
    [
        dict(tau_syn=0.1, theta=1.0, tau_mem=0.3),  # the closed form needs tau_mem = 2 tau_syn
        dict(tau_syn=0.0, theta=1.0),
        dict(tau_syn=-0.1, theta=1.0),
        dict(tau_syn=0.1, theta=0.0),
        dict(tau_syn=0.1, theta=-1.0),
        dict(tau_syn=0.1, theta=1.0, delta_theta=0.0),
        dict(tau_syn=np.inf, theta=1.0),
        dict(tau_syn=0.1, theta=np.nan),
    ],
)
def test_bad_params_raise(kw):
    with pytest.raises(ValueError, match=r"must be finite and > 0|tau_mem == 2 \* tau_syn"):
        snnjax.LIFParams(**kw)


def test_params_accept_consistent_tau_mem():
    p = snnjax.LIFParams(tau_syn=0.1, theta=1.0, tau_mem=0.2)
    assert float(p.tau_mem) == pytest.approx(0.2)
    assert float(p.delta_theta) == 1.0


def test_checkify_catches_bad_times_inside_jit():
    from jax.experimental import checkify

    weights = jnp.asarray(strong_layer().weights, jnp.float32)

    def f(times):
        snnjax.checkify_spike_times(times)
        return snnjax.lif_layer(times, weights, P, max_spikes=2, t_max=0.1).times

    checked = checkify.checkify(jax.jit(f))
    good = np.asarray(strong_layer().times, np.float32)
    err, out = checked(good)
    assert err.get() is None
    assert np.isfinite(np.asarray(out)).any()
    bad = good.copy()
    bad[1, 2, 0] = -0.001
    err, _ = checked(bad)
    assert err.get() is not None
    assert "negative" in err.get()
    bad = good.copy()
    bad[0, 0, 0] = np.nan
    err, _ = checked(bad)
    assert err.get() is not None
    assert "NaN" in err.get()
    bad = good.copy()
    bad[2, 1, :2] = [0.005, 0.001]
    err, _ = checked(bad)
    assert err.get() is not None
    assert "sorted" in err.get()


def test_dtypes():
    lay = strong_layer()
    out32 = run_layer(lay, K, np.float32)
    # LayerOutput fields (times, n_dropped, n_input_overflow, n_unresolved): dtypes, shapes
    chex.assert_type(out32, (np.float32, np.int32, np.int32, np.int32))
    chex.assert_shape(out32, ((B, N_OUT, K), (B, N_OUT), (B,), (B, N_OUT)))
    # float64 arrays without x64: JAX computes (and returns) float32
    p32 = snnjax.LIFParams(*(np.float32(v) for v in (lay.tau_syn, lay.theta, lay.delta_theta)))
    out = LIF_LAYER_JIT(lay.times, lay.weights, p32, max_spikes=K, t_max=np.float32(lay.t_max))
    assert out.times.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out.times), out32.times)
    with float64():
        out64 = run_layer(lay, K, np.float64)
        assert out64.times.dtype == np.float64
        assert out64.n_dropped.dtype == np.int32
        # mixed precision promotes, as jnp does, under the standard promotion rules (the
        # suite runs under strict promotion, tests/conftest.py, where it is an error like
        # any implicit float32/float64 mix in jnp)
        mixed_args = (np.asarray(lay.times, np.float32), np.asarray(lay.weights), lay.params)
        with pytest.raises(jax.dtypes.TypePromotionError):
            LIF_LAYER_JIT(*mixed_args, max_spikes=K, t_max=lay.t_max)
        with jax.numpy_dtype_promotion("standard"):
            mixed = LIF_LAYER_JIT(*mixed_args, max_spikes=K, t_max=lay.t_max)
        assert mixed.times.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(mixed.times), out64.times, rtol=0, atol=1e-9)
    f = np.isfinite(out64.times)
    np.testing.assert_array_equal(np.isfinite(out32.times), f)
    np.testing.assert_allclose(out32.times[f], out64.times[f], rtol=0, atol=1e-5)


def test_leading_batch_dimensions(x64):
    lay = strong_layer()
    flat = run_layer(lay, K)
    nested = LIF_LAYER_JIT(
        lay.times.reshape(2, 2, N_IN, K_IN), lay.weights, lay.params, max_spikes=K, t_max=lay.t_max
    )
    np.testing.assert_array_equal(np.asarray(nested.times).reshape(flat.times.shape), flat.times)
    assert nested.n_dropped.shape == (2, 2, N_OUT)
    assert nested.n_input_overflow.shape == (2, 2)
    single = LIF_LAYER_JIT(lay.times[0], lay.weights, lay.params, max_spikes=K, t_max=lay.t_max)
    assert single.times.shape == (N_OUT, K)
    assert single.n_input_overflow.shape == ()
    np.testing.assert_allclose(np.asarray(single.times), flat.times[0], rtol=0, atol=1e-12)
