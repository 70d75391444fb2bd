"""Tests of the NumPy float64 reference simulator (snnjax.lif.reference).

The reference is the oracle of every JAX test, so it is itself checked against
independent simulations of the same ODEs:

* a clock-driven integrator written here (exact exponential integration between grid
  points, threshold check on the grid, subtractive reset), and
* Brian2 (slow test).

ODE scaling. SPEC §1 writes the membrane potential as the closed form
    u(t) = tau * sum_j w_j [exp(-(t - t_j)/tau) - exp(-(t - t_j)/tau_s)]  (tau = 2 tau_s)
for the ODEs dI/dt = -I/tau_s (I += w at an input) and du/dt = -u/tau + I. Check with one
input of weight w at t = 0 (s = t):
    du/dt     = -w exp(-s/tau) + (tau/tau_s) w exp(-s/tau_s) = -w exp(-s/tau) + 2 w exp(-s/tau_s)
    -u/tau    = -w exp(-s/tau) +              w exp(-s/tau_s)
    du/dt + u/tau = w exp(-s/tau_s) = I(s).
So the current jumps by exactly w (no factor 2, no factor tau): I is in units of theta per
second, and Brian2 integrates ``du/dt = -u/tau + I`` with ``on_pre: I += w`` (w in Hz).

Exact step of length h with I(s) = I0 exp(-s/tau_s) (using 1/tau - 1/tau_s = -1/tau):
    u(h) = exp(-h/tau) [u0 + I0 * integral_0^h exp(-s/tau) ds]
         = exp(-h/tau) [u0 + I0 tau (1 - exp(-h/tau))],        I(h) = I0 exp(-h/tau_s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from snnjax.lif.reference import membrane_potential, simulate_layer

TAU_SYN = 5e-3  # s
TAU_MEM = 2 * TAU_SYN
THETA = 1.0


# --------------------------------------------------------------------------------------
# random layers
# --------------------------------------------------------------------------------------


def random_layer(rng, *, t_in=0.03, mean_w=100.0, std_w=250.0, grid=None):
    """A small random layer: ``(input_times [n_in, K], weights [n_in, n_out], delta_theta)``.

    Mixed-sign weights, up to 4 spikes per input (some slots empty), and a few exactly
    equal input times (across rows, and within rows unless ``grid`` is given). With
    ``grid`` (a time step), input times are integer multiples of it, distinct within a row.
    """
    n_in = int(rng.integers(3, 9))
    n_out = int(rng.integers(1, 5))
    k_in = int(rng.integers(1, 5))
    if grid is None:
        times = rng.uniform(0.0, t_in, (n_in, k_in))
    else:
        n_grid = int(t_in / grid)
        times = np.stack([rng.choice(n_grid, k_in, replace=False) for _ in range(n_in)])
        times = times * grid
    times[rng.random((n_in, k_in)) < 0.25] = np.inf
    finite = np.argwhere(np.isfinite(times))
    for _ in range(int(rng.integers(0, 4))):  # copy some times: exactly equal events
        if len(finite) >= 2:
            (i, k), (j, m) = finite[rng.choice(len(finite), 2, replace=False)]
            if grid is not None and i == j:
                continue
            if grid is not None and times[j, m] in times[i]:
                continue
            times[i, k] = times[j, m]
    times = np.sort(times, axis=1)
    weights = rng.normal(mean_w, std_w, (n_in, n_out))
    delta_theta = float(rng.choice([1.0, 0.5, 1.5])) * THETA
    return times, weights, delta_theta


# --------------------------------------------------------------------------------------
# independent clock-driven simulator
# --------------------------------------------------------------------------------------


def grid_simulate(layers, *, dt, t_end, theta=THETA, margin=1e-4, min_slope=1.0, record_every=None):
    """Clock-driven simulation of many layers at once (all neurons in one flat vector).

    Between grid points T_n = n dt the ODEs are integrated exactly (input spikes inside a
    step are added with their exact kernels at the step's end); a spike is emitted at the
    first grid point where u >= theta, and the reset subtracts delta_theta at that grid
    point, scaled by exp(-(T_n - t_c)/tau) where t_c is the linearly interpolated crossing
    (so that later spikes do not inherit the grid error of the reset time).

    Args:
      layers: list of ``(input_times, weights, delta_theta)``.
      margin, min_slope: a neuron is "grazing" if a local maximum of u lies in
        ``(theta - margin, theta)`` or it crosses theta with du/dt < ``min_slope`` (1/s).
        (A crossing whose maximum exceeds theta by less than the grid's sampling error
        ~ u'' dt**2 / 8 would be missed; its slope is then ~ sqrt(u'' * u'' dt**2 / 4).)

    Returns:
      ``(spikes, grazing, u_rec)``: ``spikes[c][i]`` the list of grid spike times of
      neuron i of layer c; ``grazing[c]`` bool; ``u_rec`` ``[n_rec, N]`` the potentials
      at steps that are multiples of ``record_every`` (or None).
    """
    offsets = np.cumsum([0] + [w.shape[1] for _, w, _ in layers])
    n = int(offsets[-1])
    dtheta = np.concatenate([np.full(w.shape[1], d) for _, w, d in layers])
    th = np.full(n, float(theta))
    n_steps = int(np.rint(t_end / dt))

    # Exact contributions of input spikes at the end of their step.
    events: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for c, (times, weights, _) in enumerate(layers):
        sl = slice(offsets[c], offsets[c + 1])
        for j, k in np.argwhere(np.isfinite(times)):
            s = times[j, k]
            g = int(s // dt)  # s in [g dt, (g+1) dt)
            if g >= n_steps:
                continue
            h = (g + 1) * dt - s
            d_i, d_u = events.setdefault(g, (np.zeros(n), np.zeros(n)))
            d_i[sl] += weights[j] * math.exp(-h / TAU_SYN)
            d_u[sl] += weights[j] * TAU_MEM * (math.exp(-h / TAU_MEM) - math.exp(-h / TAU_SYN))

    e_mem, e_syn = math.exp(-dt / TAU_MEM), math.exp(-dt / TAU_SYN)
    gain = TAU_MEM * (1.0 - e_mem)
    u = np.zeros(n)
    cur = np.zeros(n)
    u_prev = np.zeros(n)  # u at T_{n-1} (after any reset)
    u_prev2 = np.zeros(n)
    grazing = np.zeros(n, dtype=bool)
    spikes: list[list[float]] = [[] for _ in range(n)]
    u_rec = [] if record_every else None
    for step in range(1, n_steps + 1):
        u = e_mem * (u + gain * cur)
        cur = cur * e_syn
        ev = events.get(step - 1)
        if ev is not None:
            cur = cur + ev[0]
            u = u + ev[1]
        # local maximum of u at T_{n-1} just below theta: a near miss
        near = (u_prev > th - margin) & (u_prev > u_prev2) & (u_prev >= u)
        if near.any():
            grazing |= near
        above = u >= th
        if above.any():
            t_now = step * dt
            for i in np.flatnonzero(above):
                slope = (u[i] - u_prev[i]) / dt
                if slope < min_slope:
                    grazing[i] = True
                t_c = t_now - dt + dt * (th[i] - u_prev[i]) / (u[i] - u_prev[i])
                spikes[i].append(t_now)
                u[i] -= dtheta[i] * math.exp(-(t_now - t_c) / TAU_MEM)
                assert u[i] < th[i], "grid step too coarse: two spikes in one step"
        u_prev2, u_prev = u_prev, u
        if record_every and step % record_every == 0:
            u_rec.append(u.copy())
    per_layer = [spikes[offsets[c] : offsets[c + 1]] for c in range(len(layers))]
    graze = [bool(grazing[offsets[c] : offsets[c + 1]].any()) for c in range(len(layers))]
    return per_layer, graze, (np.array(u_rec) if record_every else None)


# --------------------------------------------------------------------------------------
# tests against the grid simulator
# --------------------------------------------------------------------------------------


def test_matches_fine_grid_integration():
    rng = np.random.default_rng(1234)
    dt, t_end = 1e-6, 0.08
    layers = [random_layer(rng) for _ in range(40)]
    grid_spikes, grazing, _ = grid_simulate(layers, dt=dt, t_end=t_end)

    used = n_spikes = max_per_neuron = n_equal = 0
    for (times, weights, dtheta), g_spikes, graze in zip(layers, grid_spikes, grazing, strict=True):
        ref, dropped = simulate_layer(
            times,
            weights,
            tau_syn=TAU_SYN,
            theta=THETA,
            delta_theta=dtheta,
            max_spikes=100,
            t_max=t_end,
        )
        assert (dropped == 0).all()
        if graze or (ref[np.isfinite(ref)] > t_end - 2 * dt).any():
            continue
        used += 1
        finite = times[np.isfinite(times)]
        n_equal += len(finite) - len(np.unique(finite))
        for i, g in enumerate(g_spikes):
            r = ref[i][np.isfinite(ref[i])]
            assert len(r) == len(g), (i, r, g)
            g = np.asarray(g)
            # the grid sees a crossing at the first grid point at or after it
            np.testing.assert_array_less(g - dt - 1e-3 * dt, r)
            np.testing.assert_array_less(r, g + 1e-3 * dt)
            n_spikes += len(r)
            max_per_neuron = max(max_per_neuron, len(r))
    # the comparison must not be vacuous
    assert used >= 30
    assert n_spikes >= 100
    assert max_per_neuron >= 5
    assert n_equal >= 5


def test_membrane_potential_matches_ode_without_threshold():
    rng = np.random.default_rng(7)
    layers = [random_layer(rng) for _ in range(5)]
    dt = 1e-4  # the integration is exact between grid points: a coarse grid suffices
    _, _, u_rec = grid_simulate(layers, dt=dt, t_end=0.06, theta=np.inf, record_every=3)
    t_rec = dt * 3 * np.arange(1, u_rec.shape[0] + 1)
    col = 0
    for times, weights, dtheta in layers:
        n_out = weights.shape[1]
        empty = np.full((n_out, 1), np.inf)
        u = membrane_potential(
            t_rec, times, weights, empty, tau_syn=TAU_SYN, theta=THETA, delta_theta=dtheta
        )
        np.testing.assert_allclose(u, u_rec[:, col : col + n_out], rtol=1e-9, atol=1e-9)
        col += n_out
    assert np.abs(u_rec).max() > 1.0  # the potentials are not trivially small


def test_membrane_potential_is_theta_at_spikes_and_below_between():
    rng = np.random.default_rng(99)
    t_max = 0.06
    n_checked = 0
    for _ in range(15):
        times, weights, dtheta = random_layer(rng)
        out, _ = simulate_layer(
            times,
            weights,
            tau_syn=TAU_SYN,
            theta=THETA,
            delta_theta=dtheta,
            max_spikes=100,
            t_max=t_max,
        )
        kw = dict(tau_syn=TAU_SYN, theta=THETA, delta_theta=dtheta)
        for i in range(weights.shape[1]):
            s = out[i][np.isfinite(out[i])]
            if len(s) == 0:
                continue
            n_checked += len(s)
            u_at = membrane_potential(s, times, weights, out, **kw)[:, i]
            np.testing.assert_allclose(u_at, THETA, rtol=0, atol=1e-12)
            # right after the spike the reset has acted: u = theta - delta_theta
            u_after = membrane_potential(np.nextafter(s, np.inf), times, weights, out, **kw)[:, i]
            np.testing.assert_allclose(u_after, THETA - dtheta, rtol=0, atol=1e-12)
        # a dense grid (spike times excluded) stays below theta
        t = np.linspace(0.0, t_max, 20001)
        t = t[~np.isin(t, out)]
        u = membrane_potential(t, times, weights, out, **kw)
        assert (u < THETA + 1e-12).all(), u.max()
    assert n_checked >= 30


# --------------------------------------------------------------------------------------
# hand-computed cases
# --------------------------------------------------------------------------------------


def test_single_input_closed_form():
    t0 = 0.0123
    w_crit = 4 * THETA / TAU_MEM  # a single PSP peaks at tau*w/4 (at s = tau ln 2)
    w = 1.5 * w_crit
    # relative to t_ref = t0: a = w, b = w, c = theta/tau
    a, b, c = w, w, THETA / TAU_MEM
    x = math.sqrt(b * b - 4 * a * c)
    expected = t0 + TAU_MEM * math.log(2 * a / (b + x))
    # the hand value really is a threshold crossing of the PSP
    s = expected - t0
    assert TAU_MEM * w * (math.exp(-s / TAU_MEM) - math.exp(-s / TAU_SYN)) == pytest.approx(THETA)

    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=3, t_max=1.0)
    out, dropped = simulate_layer([[t0]], [[w]], **kw)
    assert out[0, 0] == pytest.approx(expected, rel=0, abs=1e-14)
    assert np.isinf(out[0, 1:]).all()
    assert dropped[0] == 0

    # just below the critical weight: the peak stays below theta, no spike
    out, _ = simulate_layer([[t0]], [[0.999 * w_crit]], **kw)
    assert np.isinf(out).all()
    # just above it: a spike close to the PSP peak t0 + tau ln 2
    out, _ = simulate_layer([[t0]], [[1.001 * w_crit]], **kw)
    assert abs(out[0, 0] - (t0 + TAU_MEM * math.log(2))) < 0.1 * TAU_MEM
    # two halves at exactly the same time act as one input
    out2, _ = simulate_layer([[t0], [t0]], [[w / 2], [w / 2]], **kw)
    assert out2[0, 0] == pytest.approx(expected, rel=0, abs=1e-14)


def test_equal_time_events_integrated_together():
    # +w and -w at the same instant cancel exactly: no spike, in either order. Processing
    # the excitatory one alone first (with the next *distinct* time as the horizon) would
    # produce a spurious spike.
    t0, w = 0.01, 5 * 4 * THETA / TAU_MEM
    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=3, t_max=1.0)
    for weights in ([[w], [-w]], [[-w], [w]]):
        out, _ = simulate_layer([[t0], [t0]], weights, **kw)
        assert np.isinf(out).all()
    # sanity: the excitatory input alone spikes
    out, _ = simulate_layer([[t0]], [[w]], **kw)
    assert np.isfinite(out[0, 0])
    # duplicate times inside one row are two events
    out_dup, _ = simulate_layer([[t0, t0]], [[w / 2]], **kw)
    np.testing.assert_array_equal(out_dup, out)


def test_no_input_no_spike_and_inhibition_never_spikes():
    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=2, t_max=1.0)
    out, dropped = simulate_layer(np.full((3, 2), np.inf), np.ones((3, 4)) * 1e4, **kw)
    assert out.shape == (4, 2)
    assert np.isinf(out).all()
    assert (dropped == 0).all()
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0, 0.05, (6, 3)), axis=1)
    out, _ = simulate_layer(times, -rng.uniform(0, 1e4, (6, 5)), **kw)
    assert np.isinf(out).all()


# --------------------------------------------------------------------------------------
# buffer overflow, t_max, long simulations
# --------------------------------------------------------------------------------------


def _strong_layer():
    times = np.array([[0.001, 0.004, np.inf], [0.002, 0.002, 0.009], [0.003, np.inf, np.inf]])
    weights = np.array([[600.0, 500.0], [300.0, 800.0], [400.0, -100.0]])
    return times, weights


def test_buffer_overflow_counts_dropped_spikes():
    times, weights = _strong_layer()
    kw = dict(tau_syn=TAU_SYN, theta=THETA, t_max=0.1)
    full, dropped = simulate_layer(times, weights, max_spikes=20, **kw)
    total = np.isfinite(full).sum(axis=1)
    assert (dropped == 0).all()
    assert (total > 4).all()
    assert (total < 20).all()
    for row, n in zip(full, total, strict=True):
        assert (np.diff(row[:n]) > 0).all()
        assert np.isinf(row[n:]).all()

    two, dropped2 = simulate_layer(times, weights, max_spikes=2, **kw)
    np.testing.assert_array_equal(two, full[:, :2])
    np.testing.assert_array_equal(dropped2, total - 2)
    assert dropped2.dtype == np.int64
    assert two.dtype == np.float64

    capped, dropped_c = simulate_layer(times, weights, max_spikes=2, count_dropped_up_to=3, **kw)
    np.testing.assert_array_equal(capped, full[:, :2])
    np.testing.assert_array_equal(dropped_c, np.minimum(total - 2, 3))
    _, dropped_0 = simulate_layer(times, weights, max_spikes=2, count_dropped_up_to=0, **kw)
    np.testing.assert_array_equal(dropped_0, 0)

    none, dropped_none = simulate_layer(times, weights, max_spikes=0, **kw)
    assert none.shape == (2, 0)
    np.testing.assert_array_equal(dropped_none, total)


def test_t_max_cut_off():
    times, weights = _strong_layer()
    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=20)
    full, _ = simulate_layer(times, weights, t_max=0.1, **kw)
    s = full[0][np.isfinite(full[0])]
    # cut between spikes 3 and 4: exactly the first three are returned
    cut, _ = simulate_layer(times, weights, t_max=0.5 * (s[2] + s[3]), **kw)
    np.testing.assert_array_equal(cut[0], np.r_[s[:3], np.full(17, np.inf)])
    assert (cut[np.isfinite(cut)] <= 0.5 * (s[2] + s[3])).all()
    # t* <= t_max is inclusive
    cut, _ = simulate_layer(times, weights, t_max=s[2], **kw)
    np.testing.assert_array_equal(cut[0, :4], np.r_[s[:3], np.inf])
    # an input at or after t_max changes nothing
    t_max = 0.5 * (s[2] + s[3])
    more_t = np.r_[times, [[t_max, t_max + 1e-3, np.inf]]]
    more_w = np.r_[weights, [[1e4, 1e4]]]
    more, _ = simulate_layer(more_t, more_w, t_max=t_max, **kw)
    cut, _ = simulate_layer(times, weights, t_max=t_max, **kw)
    np.testing.assert_array_equal(more, cut)


def test_rejected_candidate_beyond_t_max_does_not_stop_the_neuron():
    w_crit = 4 * THETA / TAU_MEM
    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=2)
    # input A alone crosses late (near its PSP peak), after t_max
    late, _ = simulate_layer([[0.0]], [[1.0001 * w_crit]], t_max=1.0, **kw)
    t_a = late[0, 0]
    t_max = 0.8 * t_a
    out, _ = simulate_layer([[0.0]], [[1.0001 * w_crit]], t_max=t_max, **kw)
    assert np.isinf(out).all()
    # input B before t_max (and before A's candidate) still produces a spike before t_max
    t_b = 0.5 * t_a
    out, _ = simulate_layer([[0.0], [t_b]], [[1.0001 * w_crit], [3 * w_crit]], t_max=t_max, **kw)
    assert t_b < out[0, 0] <= t_max
    # and it is the same spike as without the cut-off
    free, _ = simulate_layer([[0.0], [t_b]], [[1.0001 * w_crit], [3 * w_crit]], t_max=1.0, **kw)
    assert out[0, 0] == free[0, 0]


@pytest.mark.parametrize("shift", [1000.0, 1e5])
def test_long_simulation_time_shift(shift):
    # exp(t/tau_syn) of absolute times would overflow at t > 3.5 s (709 * tau_syn)
    rng = np.random.default_rng(5)
    n = 0
    for _ in range(10):
        times, weights, dtheta = random_layer(rng)
        kw = dict(tau_syn=TAU_SYN, theta=THETA, delta_theta=dtheta, max_spikes=100)
        out, d = simulate_layer(times, weights, t_max=0.08, **kw)
        out_s, d_s = simulate_layer(times + shift, weights, t_max=shift + 0.08, **kw)
        np.testing.assert_array_equal(np.isfinite(out), np.isfinite(out_s))
        np.testing.assert_array_equal(d, d_s)
        f = np.isfinite(out)
        np.testing.assert_allclose(out_s[f] - shift, out[f], rtol=0, atol=1e-14 * shift * 100)
        n += f.sum()
    assert n >= 20


def test_input_validation():
    kw = dict(tau_syn=TAU_SYN, theta=THETA, max_spikes=2, t_max=1.0)
    with pytest.raises(ValueError, match="sorted"):
        simulate_layer([[0.2, 0.1]], [[1.0]], **kw)
    with pytest.raises(ValueError, match="NaN"):
        simulate_layer([[np.nan]], [[1.0]], **kw)
    with pytest.raises(ValueError, match="weights"):
        simulate_layer([[0.1]], [[1.0], [2.0]], **kw)
    with pytest.raises(ValueError, match="theta"):
        simulate_layer([[0.1]], [[1.0]], **{**kw, "theta": -1.0})


# --------------------------------------------------------------------------------------
# Brian2
# --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pyparsing, used by brian2
def test_matches_brian2(brian2_numpy):
    b2 = brian2_numpy
    dt, t_end = 1e-5, 0.06
    rng = np.random.default_rng(2024)

    # choose layers (input times on Brian's grid) whose crossings are not grazing, judged
    # by the independent grid simulator
    candidates = [random_layer(rng, t_in=0.025, grid=dt, mean_w=60.0) for _ in range(20)]
    _, grazing, _ = grid_simulate(candidates, dt=2e-6, t_end=t_end, margin=2e-2, min_slope=20.0)
    layers = [lay for lay, g in zip(candidates, grazing, strict=True) if not g]
    assert len(layers) >= 6

    offsets_in = np.cumsum([0] + [t.shape[0] for t, _, _ in layers])
    offsets_out = np.cumsum([0] + [w.shape[1] for _, w, _ in layers])
    gen_i, gen_t, syn_i, syn_j, syn_w = [], [], [], [], []
    for c, (times, weights, _) in enumerate(layers):
        for j, k in np.argwhere(np.isfinite(times)):
            gen_i.append(offsets_in[c] + j)
            gen_t.append(times[j, k])
        for j in range(weights.shape[0]):
            for i in range(weights.shape[1]):
                syn_i.append(offsets_in[c] + j)
                syn_j.append(offsets_out[c] + i)
                syn_w.append(weights[j, i])

    b2.defaultclock.dt = dt * b2.second
    inputs = b2.SpikeGeneratorGroup(
        int(offsets_in[-1]), np.array(gen_i), np.array(gen_t) * b2.second
    )
    neurons = b2.NeuronGroup(
        int(offsets_out[-1]),
        """
        du/dt = -u/tau_mem + I : 1
        dI/dt = -I/tau_syn : Hz
        dtheta : 1 (constant)
        """,
        threshold="u > theta",
        reset="u -= dtheta",
        method="exact",
        namespace={
            "tau_mem": TAU_MEM * b2.second,
            "tau_syn": TAU_SYN * b2.second,
            "theta": THETA,
        },
    )
    neurons.dtheta = np.concatenate([np.full(w.shape[1], d) for _, w, d in layers])
    syn = b2.Synapses(inputs, neurons, "w : Hz", on_pre="I_post += w")
    syn.connect(i=np.array(syn_i), j=np.array(syn_j))
    syn.w = np.array(syn_w) * b2.Hz
    mon = b2.SpikeMonitor(neurons)
    net = b2.Network(inputs, neurons, syn, mon)
    net.run(t_end * b2.second)
    b_i = np.asarray(mon.i[:])
    b_t = np.asarray(mon.t / b2.second)

    n_spikes = 0
    for c, (times, weights, dtheta) in enumerate(layers):
        t_stop = t_end - 5 * dt
        kw = dict(tau_syn=TAU_SYN, theta=THETA, delta_theta=dtheta)
        ref, _ = simulate_layer(times, weights, max_spikes=100, t_max=t_stop, **kw)
        for i in range(weights.shape[1]):
            r = ref[i][np.isfinite(ref[i])]
            b = np.sort(b_t[b_i == offsets_out[c] + i])
            b = b[b <= t_stop]
            assert len(b) == len(r), (c, i, r, b)
            if len(r) == 0:
                continue
            # Brian integrates a step, then thresholds and applies synaptic events, and
            # labels the step with its start time: inputs act dt late and a spike is
            # labelled with the start of the step whose end first has u > theta, so
            # 0 <= b - r < dt for a first spike. Each Brian reset also acts up to dt (plus
            # that spike's own error e_m) late, which leaves u higher by up to
            # dtheta/tau (e_m + dt) exp(-(t - t_m)/tau), delaying spike k by that over
            # the slope du/dt at r_k.
            h = 1e-9
            u_before = membrane_potential(r - h, times, weights, ref, **kw)[:, i]
            slope = (THETA - u_before) / h
            bound = []
            for k in range(len(r)):
                late = sum(
                    dtheta / TAU_MEM * math.exp(-(r[k] - r[m]) / TAU_MEM) * (bound[m] + dt)
                    for m in range(k)
                )
                bound.append(dt + 1.5 * late / slope[k])
            err, bound = b - r, np.array(bound)
            assert (err >= -0.05 * dt).all(), (c, i, err / dt)
            assert (err <= bound + 0.05 * dt).all(), (c, i, err / dt, bound / dt)
            n_spikes += len(r)
    assert n_spikes >= 20
