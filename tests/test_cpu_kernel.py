"""The compiled CPU kernel and the pure-JAX kernel compute the same spike times and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnjax
from snnjax import cpu_kernel, reference

pytestmark = pytest.mark.skipif(not cpu_kernel.available(),
                                reason="compiled CPU kernel could not be built here")

PARAMS = snnjax.LIFParams(tau_syn=0.13, theta=0.2, delta_theta=0.15)


def _random_layer(rng, batch=4, n_in=12, n_out=9, k_in=3):
    t = np.sort(rng.uniform(0.0, 0.25, (batch, n_in, k_in)), axis=-1)
    t[rng.random(t.shape) < 0.25] = np.inf
    t = np.sort(np.round(t, 3), axis=-1)  # rounding makes equal input times
    w = rng.normal(0.6, 1.2, (n_in, n_out))
    return t, w


def _loss_and_grads(kernel, monkeypatch, t, w, cot, max_spikes):
    monkeypatch.setenv("SNNJAX_KERNEL", kernel)

    def loss(t, w):
        out = snnjax.lif_layer(t, w, PARAMS, max_spikes=max_spikes, t_max=0.3)
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times * cot, 0.0)), out

    # A fresh jit per kernel: the choice is made at trace time.
    (_, out), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(t, w)
    return out, grads


@pytest.mark.parametrize("x64", [False, True])
def test_compiled_and_pure_jax_kernels_agree(monkeypatch, x64):
    rng = np.random.default_rng(7)
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        tol = 1e-10 if x64 else 2e-5
        n_multi = 0
        for _ in range(6):
            t, w = _random_layer(rng)
            t, w = jnp.asarray(t, dtype), jnp.asarray(w, dtype)
            cot = jnp.asarray(rng.normal(size=(4, 9, 5)), dtype)
            out_c, (gt_c, gw_c) = _loss_and_grads("cpu", monkeypatch, t, w, cot, 5)
            out_x, (gt_x, gw_x) = _loss_and_grads("xla", monkeypatch, t, w, cot, 5)
            assert out_c.times.dtype == dtype
            np.testing.assert_array_equal(np.isfinite(out_c.times), np.isfinite(out_x.times))
            finite = np.isfinite(np.asarray(out_x.times))
            np.testing.assert_allclose(np.asarray(out_c.times)[finite],
                                       np.asarray(out_x.times)[finite], atol=tol, rtol=0)
            np.testing.assert_array_equal(out_c.n_dropped, out_x.n_dropped)
            scale = float(jnp.max(jnp.abs(gw_x))) + 1e-12
            np.testing.assert_allclose(gw_c, gw_x, atol=100 * tol * scale, rtol=0)
            scale = float(jnp.max(jnp.abs(gt_x))) + 1e-12
            np.testing.assert_allclose(gt_c, gt_x, atol=100 * tol * scale, rtol=0)
            n_multi += int(np.sum(np.sum(finite, axis=-1) >= 3))
        assert n_multi > 5, "the random layers must contain multi-spike neurons"


def test_compiled_kernel_matches_reference_with_overflowing_buffers(monkeypatch):
    monkeypatch.setenv("SNNJAX_KERNEL", "cpu")
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        t, w = _random_layer(rng, batch=3)
        w = np.abs(w) * 3  # strong drive: buffers of 2 overflow
        out = jax.jit(lambda t, w: snnjax.lif_layer(t, w, PARAMS, max_spikes=2, t_max=0.3))(
            jnp.asarray(t), jnp.asarray(w))
        assert int(out.n_dropped.sum()) > 0
        for s in range(3):
            times, dropped = reference.simulate_layer(
                t[s], w, tau_syn=0.13, theta=0.2, delta_theta=0.15, max_spikes=2, t_max=0.3)
            np.testing.assert_allclose(out.times[s], times, atol=1e-10)
            np.testing.assert_array_equal(out.n_dropped[s], dropped)


def test_vmap_over_weights_equals_loop(monkeypatch):
    """vmap over weight-noise seeds (the robustness use case) runs the custom call per seed."""
    monkeypatch.setenv("SNNJAX_KERNEL", "cpu")
    rng = np.random.default_rng(5)
    t, w = _random_layer(rng)
    t, w = jnp.asarray(t, jnp.float32), jnp.asarray(w, jnp.float32)
    noise = jnp.asarray(rng.normal(1.0, 0.1, (3,) + w.shape), jnp.float32)

    def f(scale):
        return snnjax.lif_layer(t, w * scale, PARAMS, max_spikes=4, t_max=0.3).times

    batched = jax.jit(jax.vmap(f))(noise)
    looped = jnp.stack([jax.jit(f)(n) for n in noise])
    np.testing.assert_array_equal(batched, looped)


def test_forcing_an_unknown_kernel_is_an_error(monkeypatch):
    monkeypatch.setenv("SNNJAX_KERNEL", "fortran")
    with pytest.raises(ValueError, match="SNNJAX_KERNEL"):
        cpu_kernel.use_cpu_kernel(0.13)


@pytest.mark.parametrize("bound", [None, 50])
def test_compiled_sort_matches_xla_sort(bound):
    """Merging mostly empty multi-spike buffers: same times, sources and overflow counts."""
    from snnjax.kernel import sort_events

    rng = np.random.default_rng(11)
    t = np.full((5, 80, 6), np.inf, np.float32)
    for b in range(5):
        for i in range(80):
            n = rng.integers(0, 4)
            t[b, i, :n] = np.sort(np.round(rng.uniform(0, 0.3, n), 2))  # ties included
    ref = sort_events(jnp.asarray(t), 0.2, bound, compiled=False)
    got = sort_events(jnp.asarray(t), 0.2, bound, compiled=True)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[2], ref[2])
    valid = np.isfinite(np.asarray(ref[0]))
    np.testing.assert_array_equal(np.asarray(got[1])[valid], np.asarray(ref[1])[valid])
    if bound is not None:
        assert int(ref[2].sum()) > 0, "the bound must actually overflow in this test"


@pytest.mark.parametrize("bound", [None, 50])
def test_compiled_sort_gradient_matches_xla_sort(bound):
    """The compiled scatter sends each event time's cotangent back to its slot, exactly as
    the transpose of XLA's gather; empty, late and dropped slots get zero."""
    from snnjax.kernel import sort_events

    rng = np.random.default_rng(12)
    t = np.full((4, 60, 5), np.inf, np.float32)
    for b in range(4):
        for i in range(60):
            n = rng.integers(0, 4)
            t[b, i, :n] = np.sort(rng.uniform(0, 0.3, n))
    w = jnp.asarray(rng.normal(size=(4, 60 * 5 if bound is None else bound)), jnp.float32)

    def objective(times, compiled):
        ev, _, _ = sort_events(times, 0.2, bound, compiled=compiled)
        return jnp.sum(jnp.where(jnp.isfinite(ev), ev * w, 0.0))

    ref = jax.grad(objective)(jnp.asarray(t), False)
    got = jax.jit(jax.grad(objective), static_argnums=1)(jnp.asarray(t), True)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    assert np.count_nonzero(np.asarray(got)) > 0
    assert not np.any(np.asarray(got)[~(t < 0.2)])  # empty and late slots: zero
    # vmap over a leading axis (e.g. noise seeds) equals the loop
    stacked = jnp.stack([jnp.asarray(t), jnp.asarray(t) + 0.01])
    vm = jax.vmap(jax.grad(objective), in_axes=(0, None))(stacked, True)
    np.testing.assert_array_equal(np.asarray(vm[0]), np.asarray(got))
