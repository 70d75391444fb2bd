"""Exact gradients (the ``custom_vjp`` of :func:`snnjax.lif_layer`) against finite differences.

Finite differences are taken of the float64 *oracle* (:mod:`snnjax.lif.reference`), not of
the backend, so these tests check each backend's backward pass against an independent
forward pass. Spike
times are piecewise smooth: an entry is compared only where no spike appears or vanishes
within ``+-h`` (the FD of a discontinuous function means nothing there).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    Layer,
    ill_conditioned,
    random_layer,
    reference,
    spike_counts,
)

import snnjax
from snnjax.lif.backends.loop import forward_events
from snnjax.lif.events import sort_events
from snnjax.lif.grad import spike_errors
from snnjax.lif.reference import simulate_layer

B, N_IN, K_IN, N_OUT, K = 2, 6, 3, 4, 12  # standard shape of this file
# Relative FD steps: input times move by H_T * tau_syn, weights by H_W * theta / tau_mem.
# The truncation error is O(h**2) (~1e-12 relative); the rounding noise of the oracle's
# spike times (~1e-17 s) divided by 2h is what limits the smallest entries, hence the
# slightly larger step for the weights (a spike time moves by ~1e-7 tau_syn at H_W).
H_T, H_W = 1e-7, 1e-6


def masked_sum(times, coef):
    """``sum coef * t`` over the filled slots (``+inf`` slots contribute nothing)."""
    return jnp.sum(jnp.where(jnp.isfinite(times), times, 0.0) * coef)


@partial(jax.jit, static_argnames=("max_spikes", "backend"))
def loss_and_grads(times, weights, params, t_max, coef, *, max_spikes, backend):
    """``L = sum coef * t_out`` and ``(dL/d input_times, dL/d weights)``."""

    def loss(times, weights):
        out = snnjax.lif_layer(
            times, weights, params, max_spikes=max_spikes, t_max=t_max, backend=backend
        )
        return masked_sum(out.times, coef)

    return jax.value_and_grad(loss, argnums=(0, 1))(times, weights)


def ref_loss(lay: Layer, coef, max_spikes):
    """Oracle loss and spike counts (stored + dropped) ``[B, n_out]``."""
    t, d = reference(lay, max_spikes)
    return float(np.sum(np.where(np.isfinite(t), t, 0.0) * coef)), spike_counts(t, d)


def fd_gradients(lay: Layer, coef, max_spikes):
    """Central FD of the oracle loss w.r.t. every weight and every input slot.

    Returns ``(g_times, g_weights, ok_times, ok_weights)``; ``ok`` is False where a spike
    count changes within ``+-h`` (those entries are not compared). Input slots that are
    empty or at/after ``t_max`` are exactly 0 (and ok).
    """
    _, counts = ref_loss(lay, coef, max_spikes)

    def central(perturb, h):
        (lp, cp), (lm, cm) = (ref_loss(perturb(s * h), coef, max_spikes) for s in (1, -1))
        return (lp - lm) / (2 * h), (cp == counts).all() and (cm == counts).all()

    h_w = H_W * lay.theta / (2 * lay.tau_syn)
    g_w, ok_w = np.zeros(lay.weights.shape), np.ones(lay.weights.shape, bool)
    for j, i in np.ndindex(*lay.weights.shape):

        def perturb(dh, j=j, i=i):
            w = lay.weights.copy()
            w[j, i] += dh
            return lay.replace(weights=w)

        g_w[j, i], ok_w[j, i] = central(perturb, h_w)

    h_t = H_T * lay.tau_syn
    g_t, ok_t = np.zeros(lay.times.shape), np.ones(lay.times.shape, bool)
    for idx in np.argwhere(np.isfinite(lay.times) & (lay.times < lay.t_max)):

        def perturb(dh, idx=tuple(idx)):
            t = lay.times.copy()
            t[idx] += dh
            return lay.replace(times=np.sort(t, axis=-1))  # a tie within a row may swap

        g_t[tuple(idx)], ok_t[tuple(idx)] = central(perturb, h_t)
    return g_t, g_w, ok_t, ok_w


def kernel_gradients(lay: Layer, coef, max_spikes, backend=None):
    """Value and exact gradients of ``sum coef * t_out`` with ``backend`` (None: automatic)."""
    value, (g_t, g_w) = loss_and_grads(
        lay.times, lay.weights, lay.params, lay.t_max, coef, max_spikes=max_spikes, backend=backend
    )
    return float(value), np.asarray(g_t), np.asarray(g_w)


def assert_grad_close(ad, fd, ok, rel=1e-5):
    """Relative error below ``rel``: per entry ``|ad - fd| <= rel * (|fd| + 1e-2 max|fd|)``
    and in norm ``||ad - fd|| <= rel ||fd||``, on the compared entries.

    The floor (1 % of the largest entry) only matters for entries that are ~0, whose FD
    is dominated by rounding noise; it is far below the terms a missing path removes.
    """
    ad, fd = ad[ok], fd[ok]
    scale = np.abs(fd).max(initial=0.0)
    err = np.abs(ad - fd)
    assert (err <= rel * (np.abs(fd) + 1e-2 * scale)).all(), (
        (err / np.maximum(np.abs(fd), 1e-300)).max(),
        (err / scale).max(),
    )
    assert np.linalg.norm(ad - fd) <= rel * np.linalg.norm(fd)


# --------------------------------------------------------------------------------------
# custom_vjp vs finite differences of the oracle
# --------------------------------------------------------------------------------------


def test_gradients_match_finite_differences(x64, backend):
    rng = np.random.default_rng(8)
    n_layers = n_multi = n_compared = n_skipped = 0
    max_count = 0
    while n_layers < 24:
        lay = random_layer(rng, batch=B, n_in=N_IN, k_in=K_IN, n_out=N_OUT)
        coef = rng.normal(size=(B, N_OUT, K))
        ref_t, ref_d = reference(lay, K)
        counts = spike_counts(ref_t, ref_d)
        if (counts < 3).all():
            continue  # keep layers where later spikes depend on earlier resets
        value, g_t, g_w = kernel_gradients(lay, coef, K, backend)
        assert value == pytest.approx(ref_loss(lay, coef, K)[0], rel=1e-12, abs=1e-12)
        fd_t, fd_w, ok_t, ok_w = fd_gradients(lay, coef, K)
        assert_grad_close(g_w, fd_w, ok_w)
        assert_grad_close(g_t, fd_t, ok_t)
        # empty and late input slots get exactly zero gradient
        dead = ~(np.isfinite(lay.times) & (lay.times < lay.t_max))
        np.testing.assert_array_equal(g_t[dead], 0.0)
        n_layers += 1
        n_multi += (counts >= 3).sum()
        max_count = max(max_count, counts.max())
        n_compared += ok_w.sum() + (ok_t & ~dead).sum()
        n_skipped += (~ok_w).sum() + (~ok_t).sum()
    assert n_multi >= 40
    assert max_count >= 8
    assert n_skipped <= 0.05 * n_compared
    assert n_compared >= 1000


def _reset_neuron():
    """One neuron, two inputs: a strong early one and a later one; >= 5 spikes."""
    w_crit = 4 * 1.0 / 0.01
    times = np.full((B, N_IN, K_IN), np.inf)
    times[:, 0, 0] = 0.002
    times[:, 1, :2] = [0.006, 0.011]
    weights = np.zeros((N_IN, N_OUT))
    weights[0] = w_crit * np.array([3.0, 3.3, 3.0, 3.5])
    weights[1] = w_crit * np.array([1.0, 0.5, 0.3, 0.2])
    return Layer(times=times, weights=weights, tau_syn=5e-3, theta=1.0, delta_theta=1.0, t_max=0.1)


_forward_events = jax.jit(forward_events, static_argnums=(4,))
_spike_errors = jax.jit(spike_errors)


def assembled_weight_grad(lay: Layer, cot, kappa):
    """``dL/dw`` assembled from the kernel's residuals by SPEC §4, with the reset term of
    :func:`snnjax.lif.grad.spike_errors` computed with the given ``kappa``."""
    tau_mem = 2 * lay.tau_syn
    events, _ = sort_events(jnp.asarray(lay.times), lay.t_max, lay.times[0].size)
    ev_t, ev_src = events
    fw = _forward_events(events, jnp.asarray(lay.weights), lay.params, lay.t_max, K)
    errors, z = _spike_errors(jnp.asarray(cot), fw.times, fw.slope, fw.frame_time, tau_mem, kappa)
    errors, z, x = np.asarray(errors), np.asarray(z), np.asarray(fw.slope)
    frame, times = np.asarray(fw.frame_time), np.asarray(fw.times)
    ev_t, ev_src = np.asarray(ev_t), np.asarray(ev_src)
    grad = np.zeros(lay.weights.shape)
    for b, i, k in np.argwhere(np.isfinite(times)):
        f1, f2 = tau_mem / (z[b, i, k] * x[b, i, k]), tau_mem / x[b, i, k]
        for t_e, j in zip(ev_t[b], ev_src[b], strict=True):
            if t_e <= frame[b, i, k]:  # causal inputs of spike k
                a = np.exp((t_e - frame[b, i, k]) / lay.tau_syn)
                bb = np.exp((t_e - frame[b, i, k]) / tau_mem)
                grad[j, i] += errors[b, i, k] * (f1 * a - f2 * bb)
    return grad


def _spike_errors_sequential(cot, times, slope, frame, tau_mem, kappa):
    """The recursion of :func:`snnjax.lif.grad.spike_errors` run slot by slot backwards
    (NumPy): ``E_k = e_k + z_k S``, ``S += kappa E_k / x_k``, frames converted on the way."""
    errors = np.zeros(times.shape)
    for b, i in np.ndindex(times.shape[:2]):
        s, t_next = 0.0, None
        for k in reversed(range(times.shape[2])):
            if not np.isfinite(times[b, i, k]):
                continue
            if t_next is not None:
                s *= np.exp((frame[b, i, k] - t_next) / tau_mem[i])
            z = np.exp((times[b, i, k] - frame[b, i, k]) / tau_mem[i])
            errors[b, i, k] = cot[b, i, k] + z * s
            s += kappa[i] * errors[b, i, k] / slope[b, i, k]
            t_next = frame[b, i, k]
    return errors


def test_spike_errors_equal_the_sequential_recursion(x64):
    """The parallel scan over the slots equals the slot-by-slot recursion to rounding,
    with empty slots between stored spikes and per-neuron ``tau_mem``, ``kappa``."""
    rng = np.random.default_rng(7)
    shape = (3, 4, 9)
    frame = np.cumsum(rng.choice([0.0, 0.0, 0.004, 0.01], size=shape), axis=-1)
    times = frame + rng.uniform(0.0, 0.003, shape)
    times[rng.uniform(size=shape) < 0.25] = np.inf  # gaps and empty tails
    times[0, 0] = np.inf  # a neuron without spikes
    slope = rng.uniform(0.05, 2.0, shape)
    cot = rng.normal(size=shape)
    tau_mem, kappa = rng.uniform(0.005, 0.02, 4), rng.uniform(0.5, 100.0, 4)
    got, z = spike_errors(cot, times, slope, frame, tau_mem, kappa)
    want = _spike_errors_sequential(cot, times, slope, frame, tau_mem, kappa)
    assert (np.abs(want - np.where(np.isfinite(times), cot, 0.0)) > 1e-3).sum() >= 20
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert (np.asarray(got)[~np.isfinite(times)] == 0).all()
    assert (np.asarray(z)[~np.isfinite(times)] == 1).all()


def test_spike_errors_saturate_past_the_float_range():
    """Products of the reset factors beyond float32 (grazing slopes, each factor ``1 +
    kappa z / x ~ 1e13``) saturate: a zero sum stays zero (no ``0 * inf = nan``; neuron 0,
    the loss on its first spike only), and every error the recursion keeps within the
    float32 range is that recursion's, the others overflow as it does (neuron 1)."""
    shape = (1, 2, 12)
    times = np.full(shape, 0.01)
    cot = np.zeros(shape)
    cot[0, 0, 0] = 1.0
    cot[0, 1, 9] = 1.0
    slope = np.full(shape, 1e-11)
    frame = np.zeros(shape)
    errors, _ = spike_errors(
        *(jnp.asarray(v, jnp.float32) for v in (cot, times, slope, frame)), 0.02, 50.0
    )
    errors = np.asarray(errors)
    np.testing.assert_array_equal(errors[0, 0], cot[0, 0])
    want = _spike_errors_sequential(cot, times, slope, frame, [0.02] * 2, [50.0] * 2)[0, 1]
    small = np.abs(want) < 1e30
    np.testing.assert_array_equal(np.flatnonzero(small), np.arange(7, 12))
    np.testing.assert_allclose(errors[0, 1, small], want[small], rtol=1e-5)
    assert (np.abs(errors[0, 1, ~small]) > 1e30).all()


def test_reset_path_matters(x64):
    lay = _reset_neuron()
    ref_t, ref_d = reference(lay, K)
    counts = spike_counts(ref_t, ref_d)
    assert (counts[0] >= 5).all()
    assert (ref_d == 0).all()
    # L = last spike of every neuron of sample 0
    cot = np.zeros((B, N_OUT, K))
    for i in range(4):
        cot[0, i, counts[0, i] - 1] = 1.0
    _, _, g_w = kernel_gradients(lay, cot, K)
    _fd_t, fd_w, _ok_t, ok_w = fd_gradients(lay, cot, K)
    assert ok_w.all()
    assert_grad_close(g_w, fd_w, ok_w)
    kappa = lay.delta_theta / (2 * lay.tau_syn)
    with_reset = assembled_weight_grad(lay, cot, kappa)
    without = assembled_weight_grad(lay, cot, 0.0)
    np.testing.assert_allclose(with_reset[:2, :4], fd_w[:2, :4], rtol=1e-5)
    # dropping the reset term changes the gradient of a late spike by far more than noise
    rel_change = np.abs(without[:2, :4] - fd_w[:2, :4]) / np.abs(fd_w[:2, :4])
    assert rel_change.max() > 0.1
    assert np.median(rel_change) > 0.02


def test_check_grads(x64):
    from jax.test_util import check_grads

    rng = np.random.default_rng(5)
    lay = random_layer(
        rng, batch=B, n_in=N_IN, k_in=K_IN, n_out=N_OUT, tau_syn=0.13, theta=1.0, p_cut=0.0
    )
    assert not ill_conditioned(lay, K, 1e-3).any()
    assert spike_counts(*reference(lay, K)).max() >= 3
    times = jnp.asarray(lay.times)

    @jax.jit
    def f(w):
        out = snnjax.lif_layer(times, w, lay.params, max_spikes=K, t_max=lay.t_max)
        return jnp.where(jnp.isfinite(out.times), out.times, 0.0)

    check_grads(f, (jnp.asarray(lay.weights),), order=1, modes=["rev"])

    finite_times = jnp.where(jnp.isfinite(times), times, 1.0)

    @jax.jit
    def g(t):
        t = jnp.where(jnp.isfinite(times), t, jnp.inf)
        out = snnjax.lif_layer(
            t, jnp.asarray(lay.weights), lay.params, max_spikes=K, t_max=lay.t_max
        )
        return jnp.where(jnp.isfinite(out.times), out.times, 0.0)

    check_grads(g, (finite_times,), order=1, modes=["rev"], eps=1e-6)


_CHAIN_K_HID, _CHAIN_T1_MAX, _CHAIN_T2_MAX = 6, 0.05, 0.08


def _chain_reference(times, w1, w2, coef):
    """Oracle of the chained layers of :func:`test_two_chained_layers`: ``(loss, spike
    counts [B, n_hid + N_OUT])``."""
    total, counts = 0.0, []
    for b in range(B):
        hid, d1 = simulate_layer(
            times[b],
            w1,
            tau_syn=5e-3,
            theta=1.0,
            delta_theta=1.0,
            max_spikes=_CHAIN_K_HID,
            t_max=_CHAIN_T1_MAX,
        )
        out, d2 = simulate_layer(
            hid, w2, tau_syn=5e-3, theta=1.0, delta_theta=0.7, max_spikes=K, t_max=_CHAIN_T2_MAX
        )
        total += np.sum(np.where(np.isfinite(out), out, 0.0) * coef[b])
        counts.append(np.r_[spike_counts(hid, d1), spike_counts(out, d2)])
    return total, np.array(counts)


def _chain_fd_weights(times, weights, which, coef, counts, h):
    """Central differences of the chained oracle's loss w.r.t. ``weights[which]``, and where
    they are valid (no spike count changes under the perturbation)."""
    arr = weights[which]
    fd, ok = np.zeros(arr.shape), np.ones(arr.shape, bool)
    for idx in np.ndindex(*arr.shape):
        vals = []
        for s in (1, -1):
            pert = list(weights)
            pert[which] = arr.copy()
            pert[which][idx] += s * h
            val, c = _chain_reference(times, *pert, coef)
            vals.append(val)
            ok[idx] &= (c == counts).all()
        fd[idx] = (vals[0] - vals[1]) / (2 * h)
    return fd, ok


def test_two_chained_layers(x64):
    """Hidden -> output: the output's input-time gradient is the hidden layer's error."""
    rng = np.random.default_rng(21)
    n_hid, k_hid = 6, _CHAIN_K_HID
    p1 = snnjax.LIFParams(5e-3, 1.0, 1.0)
    p2 = snnjax.LIFParams(5e-3, 1.0, 0.7)
    t1_max, t2_max = _CHAIN_T1_MAX, _CHAIN_T2_MAX

    @jax.jit
    def loss_and_grads2(times, w1, w2, coef):
        def loss(times, w1, w2):
            hid = snnjax.lif_layer(times, w1, p1, max_spikes=k_hid, t_max=t1_max).times
            out = snnjax.lif_layer(hid, w2, p2, max_spikes=K, t_max=t2_max).times
            return masked_sum(out, coef)

        return jax.value_and_grad(loss, argnums=(0, 1, 2))(times, w1, w2)

    n_checked = n_layers = 0
    while n_layers < 4:
        lay = random_layer(
            rng,
            batch=B,
            n_in=N_IN,
            k_in=K_IN,
            n_out=n_hid,
            tau_syn=5e-3,
            theta=1.0,
            mean_w=1.5,
            t_max=t1_max,
        )
        w1 = lay.weights
        w2 = rng.normal(1.0, 2.0, (n_hid, N_OUT)) * 100.0
        coef = rng.normal(size=(B, N_OUT, K))
        value, counts = _chain_reference(lay.times, w1, w2, coef)
        hid_counts, out_counts = counts[:, :n_hid], counts[:, n_hid:]
        if hid_counts.max() < 2 or out_counts.max() < 3 or hid_counts.max() > k_hid:
            continue
        v, (g_t, g_w1, g_w2) = loss_and_grads2(lay.times, w1, w2, coef)
        assert float(v) == pytest.approx(value, rel=1e-12)
        for which, g, h in ((0, g_w1, 1e-4), (1, g_w2, 1e-4)):
            fd, ok = _chain_fd_weights(lay.times, (w1, w2), which, coef, counts, h)
            assert_grad_close(np.asarray(g), fd, ok)
            n_checked += ok.sum()
        # input times of the first layer (through both layers)
        h = 5e-10
        for idx in np.argwhere(np.isfinite(lay.times) & (lay.times < t1_max)):
            vals = []
            for s in (1, -1):
                t = lay.times.copy()
                t[tuple(idx)] += s * h
                val, c = _chain_reference(np.sort(t, axis=-1), w1, w2, coef)
                vals.append(val)
            if (c == counts).all():
                fd_val = (vals[0] - vals[1]) / (2 * h)
                ad = float(g_t[tuple(idx)])
                assert abs(ad - fd_val) <= 1e-5 * abs(fd_val) + 1e-9, (ad, fd_val)
                n_checked += 1
        n_layers += 1
    assert n_checked >= 150


# --------------------------------------------------------------------------------------
# finite everywhere
# --------------------------------------------------------------------------------------


def _finite_cases():
    rng = np.random.default_rng(0)
    base = random_layer(
        rng, batch=B, n_in=N_IN, k_in=K_IN, n_out=N_OUT, tau_syn=5e-3, theta=1.0, p_cut=0.0
    )
    w_crit = 4 * 1.0 / 0.01
    return {
        "silent": (base.replace(weights=np.abs(base.weights) * 1e-4), K, True),
        "inhibitory": (base.replace(weights=-np.abs(base.weights)), K, True),
        "empty": (base.replace(times=np.full(base.times.shape, np.inf)), K, True),
        "late": (base.replace(times=base.times + 1.0), K, True),
        "ttfs": (base.replace(weights=np.abs(base.weights)), 1, False),
        "overflow": (base.replace(weights=np.abs(base.weights) * 20 + 10 * w_crit), K, False),
        "mixed": (base, K, False),
    }


@pytest.mark.parametrize("case", list(_finite_cases()))
def test_gradients_are_finite(x64, backend, case):
    lay, max_spikes, silent = _finite_cases()[case]
    coef = np.random.default_rng(1).normal(size=(B, N_OUT, max_spikes))
    _, g_t, g_w = kernel_gradients(lay, coef, max_spikes, backend)
    assert np.isfinite(g_t).all()
    assert np.isfinite(g_w).all()
    ref_t, ref_d = reference(lay, max_spikes)
    if silent:
        assert np.isinf(ref_t).all()
        np.testing.assert_array_equal(g_t, 0.0)
        np.testing.assert_array_equal(g_w, 0.0)
    else:
        assert np.isfinite(ref_t).any()
        assert np.abs(g_w).max() > 0
    if case == "overflow":
        assert (ref_d > 0).all()


def test_gradient_of_grazing_spike_is_finite(x64, backend):
    """A first spike 1e-12 (relative) above tangency: huge but finite gradients."""
    w_crit = 4 * 1.0 / 0.01
    times = np.full((B, N_IN, K_IN), np.inf)
    times[:, 0, 0] = 0.01
    weights = np.zeros((N_IN, N_OUT))
    weights[0] = w_crit * (1 + np.array([1e-12, 1e-9, 1e-6, -1e-9]))
    lay = Layer(times=times, weights=weights, tau_syn=5e-3, theta=1.0, delta_theta=1.0, t_max=0.1)
    ref_t, _ = reference(lay, K)
    assert np.isfinite(ref_t[0, :3, 0]).all()
    assert np.isinf(ref_t[0, 3]).all()
    coef = np.ones((B, N_OUT, K))
    _, g_t, g_w = kernel_gradients(lay, coef, K, backend)
    assert np.isfinite(g_t).all()
    assert np.isfinite(g_w).all()
    # dt/dw ~ -1/sqrt(w - w_crit) grows as the crossing grazes
    assert abs(g_w[0, 0]) > abs(g_w[0, 1]) > abs(g_w[0, 2]) > 0
