"""The event backends: each one against the others and the oracle, the registry, and the choice.

The oracle, finite-difference, property, vmap, grazing and overflow tests of the other files
in this folder take the ``backend`` fixture (every registered backend available here); this
file adds what is specific to having several backends: they agree with each other (times
and gradients), their event sorts agree with XLA's, and ``lif_layer``'s ``backend``
argument, the ``SNNJAX_KERNEL`` default and the automatic per-platform choice behave as
documented.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import BACKENDS, assert_backend_equal

import snnjax
from snnjax.lif import backends
from snnjax.lif.backends import (
    EventBackend,
    backend_name,
    get_backend,
    requested_backend,
    resolve_backend,
)
from snnjax.lif.events import sort_events
from snnjax.lif.reference import simulate_layer

PARAMS = snnjax.LIFParams(tau_syn=0.13, theta=0.2, delta_theta=0.15)
# Backends compared with the pure-JAX loop (the reference implementation among them).
OTHERS = [b for b in BACKENDS if b != "loop"]
needs_ffi = pytest.mark.skipif(
    "ffi" not in BACKENDS, reason="compiled CPU kernel could not be built here"
)


def _random_layer(rng, batch=4, n_in=12, n_out=9, k_in=3):
    t = np.sort(rng.uniform(0.0, 0.25, (batch, n_in, k_in)), axis=-1)
    t[rng.random(t.shape) < 0.25] = np.inf
    t = np.sort(np.round(t, 3), axis=-1)  # rounding makes equal input times
    w = rng.normal(0.6, 1.2, (n_in, n_out))
    return t, w


def _loss(t, w, cot, max_spikes, backend):
    out = snnjax.lif_layer(t, w, PARAMS, max_spikes=max_spikes, t_max=0.3, backend=backend)
    return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times * cot, 0.0)), out


_LOSS_AND_GRADS = jax.jit(
    jax.value_and_grad(_loss, argnums=(0, 1), has_aux=True), static_argnums=(3, 4)
)


def _loss_and_grads(backend, t, w, cot, max_spikes):
    (_, out), grads = _LOSS_AND_GRADS(t, w, cot, max_spikes, backend)
    return out, grads


# --------------------------------------------------------------------------------------
# every backend computes the same function
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", OTHERS)
@pytest.mark.parametrize("x64", [False, True])
def test_backend_agrees_with_the_pure_jax_loop(backend, x64):
    rng = np.random.default_rng(7)
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        tol = 1e-10 if x64 else 2e-5
        n_multi = 0
        for _ in range(6):
            t, w = _random_layer(rng)
            t, w = jnp.asarray(t, dtype), jnp.asarray(w, dtype)
            cot = jnp.asarray(rng.normal(size=(4, 9, 5)), dtype)
            out_c, (gt_c, gw_c) = _loss_and_grads(backend, t, w, cot, 5)
            out_x, (gt_x, gw_x) = _loss_and_grads("loop", t, w, cot, 5)
            assert out_c.times.dtype == dtype
            np.testing.assert_array_equal(np.isfinite(out_c.times), np.isfinite(out_x.times))
            finite = np.isfinite(np.asarray(out_x.times))
            np.testing.assert_allclose(
                np.asarray(out_c.times)[finite], np.asarray(out_x.times)[finite], atol=tol, rtol=0
            )
            np.testing.assert_array_equal(out_c.n_dropped, out_x.n_dropped)
            scale = float(jnp.max(jnp.abs(gw_x))) + 1e-12
            np.testing.assert_allclose(gw_c, gw_x, atol=100 * tol * scale, rtol=0)
            scale = float(jnp.max(jnp.abs(gt_x))) + 1e-12
            np.testing.assert_allclose(gt_c, gt_x, atol=100 * tol * scale, rtol=0)
            n_multi += int(np.sum(np.sum(finite, axis=-1) >= 3))
        assert n_multi > 5, "the random layers must contain multi-spike neurons"


def test_matches_reference_with_overflowing_buffers(backend):
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        t, w = _random_layer(rng, batch=3)
        w = np.abs(w) * 3  # strong drive: buffers of 2 overflow
        out = jax.jit(
            lambda t, w: snnjax.lif_layer(t, w, PARAMS, max_spikes=2, t_max=0.3, backend=backend)
        )(jnp.asarray(t), jnp.asarray(w))
        assert int(out.n_dropped.sum()) > 0
        for s in range(3):
            times, dropped = simulate_layer(
                t[s], w, tau_syn=0.13, theta=0.2, delta_theta=0.15, max_spikes=2, t_max=0.3
            )
            np.testing.assert_allclose(out.times[s], times, atol=1e-10)
            np.testing.assert_array_equal(out.n_dropped[s], dropped)


def test_vmap_over_weights_equals_loop(backend):
    """vmap over weight-noise seeds (the robustness use case) == one call per seed."""
    rng = np.random.default_rng(5)
    t, w = _random_layer(rng)
    t, w = jnp.asarray(t, jnp.float32), jnp.asarray(w, jnp.float32)
    noise = jnp.asarray(rng.normal(1.0, 0.1, (3,) + w.shape), jnp.float32)

    def f(scale):
        return snnjax.lif_layer(
            t, w * scale, PARAMS, max_spikes=4, t_max=0.3, backend=backend
        ).times

    batched = jax.jit(jax.vmap(f))(noise)
    looped = jnp.stack([jax.jit(f)(n) for n in noise])
    assert_backend_equal(backend, batched, looped, rtol=1e-6)


# --------------------------------------------------------------------------------------
# event sorting: every backend's sort equals the XLA sort (snnjax.lif.events)
# --------------------------------------------------------------------------------------


def _multi_spike_buffers(rng, batch, n_in, k_in, decimals=None):
    """Mostly empty ``[batch, n_in, k_in]`` multi-spike buffers (0-3 spikes per row)."""
    t = np.full((batch, n_in, k_in), np.inf, np.float32)
    for b in range(batch):
        for i in range(n_in):
            n = rng.integers(0, 4)
            s = rng.uniform(0, 0.3, n)
            t[b, i, :n] = np.sort(s if decimals is None else np.round(s, decimals))
    return t


@pytest.mark.parametrize("bound", [None, 50])
def test_sort_matches_xla_sort(backend, bound):
    """Merging mostly empty multi-spike buffers: same times, sources and overflow counts."""
    t = jnp.asarray(_multi_spike_buffers(np.random.default_rng(11), 5, 80, 6, decimals=2))
    n_events = 80 * 6 if bound is None else bound
    ref, ref_overflow = sort_events(t, 0.2, n_events)
    got, got_overflow = jax.jit(get_backend(backend).sort_events, static_argnums=2)(
        t, jnp.float32(0.2), n_events
    )
    np.testing.assert_array_equal(got.times, ref.times)
    np.testing.assert_array_equal(got_overflow, ref_overflow)
    valid = np.isfinite(np.asarray(ref.times))
    np.testing.assert_array_equal(np.asarray(got.source)[valid], np.asarray(ref.source)[valid])
    if bound is not None:
        assert int(ref_overflow.sum()) > 0, "the bound must actually overflow in this test"


@pytest.mark.parametrize("bound", [None, 50])
def test_sort_gradient_matches_xla_sort(backend, bound):
    """Each event time's cotangent goes back to its slot, exactly as the transpose of XLA's
    gather; empty, late and dropped slots get zero."""
    rng = np.random.default_rng(12)
    t = _multi_spike_buffers(rng, 4, 60, 5)
    n_events = 60 * 5 if bound is None else bound
    w = jnp.asarray(rng.normal(size=(4, n_events)), jnp.float32)

    def objective(times, sort):
        ev, _ = sort(times, jnp.float32(0.2), n_events)
        return jnp.sum(jnp.where(jnp.isfinite(ev.times), ev.times * w, 0.0))

    sort = get_backend(backend).sort_events
    ref = jax.grad(objective)(jnp.asarray(t), sort_events)
    got = jax.jit(jax.grad(objective), static_argnums=1)(jnp.asarray(t), sort)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(ref))
    assert np.count_nonzero(np.asarray(got)) > 0
    assert not np.any(np.asarray(got)[~(t < 0.2)])  # empty and late slots: zero
    # vmap over a leading axis (e.g. noise seeds) equals the loop
    stacked = jnp.stack([jnp.asarray(t), jnp.asarray(t) + 0.01])
    vm = jax.vmap(jax.grad(objective), in_axes=(0, None))(stacked, sort)
    np.testing.assert_array_equal(np.asarray(vm[0]), np.asarray(got))


# --------------------------------------------------------------------------------------
# the registry and the backend argument
# --------------------------------------------------------------------------------------


def test_registry():
    assert {"ffi", "loop"} <= set(backends.backend_names())
    assert set(BACKENDS) <= set(backends.backend_names())
    assert "loop" in BACKENDS
    for name in backends.backend_names():
        b = get_backend(name)
        assert isinstance(b, EventBackend)
        assert b.name == name
        assert hash(b) == hash(get_backend(name))  # static (jit, custom_vjp) argument
    assert get_backend("loop").platforms is None  # the portable fallback
    assert get_backend("ffi").platforms == ("cpu",)
    assert get_backend("parallel").platforms == ("cuda", "rocm", "tpu")


def test_unknown_backend_is_a_clear_error():
    t, w = jnp.zeros((1, 2, 1)), jnp.ones((2, 3))
    with pytest.raises(ValueError, match=r"unknown event backend 'fortran'.*'ffi', 'loop'"):
        snnjax.lif_layer(t, w, PARAMS, max_spikes=1, t_max=1.0, backend="fortran")
    with pytest.raises(TypeError, match="backend"):
        snnjax.lif_layer(t, w, PARAMS, max_spikes=1, t_max=1.0, backend=3)


def test_snnjax_kernel_is_the_default(monkeypatch):
    """``backend=None`` reads SNNJAX_KERNEL (and only there: requested_backend)."""
    monkeypatch.delenv("SNNJAX_KERNEL", raising=False)
    assert requested_backend(None) == "auto"
    for value, name in [
        ("loop", "loop"),
        ("ffi", "ffi"),
        ("auto", "auto"),
        ("xla", "loop"),
        ("cpu", "ffi"),
        ("LOOP", "loop"),
    ]:
        monkeypatch.setenv("SNNJAX_KERNEL", value)
        assert requested_backend(None) == name
        assert requested_backend("auto") == "auto"  # an explicit argument wins
    monkeypatch.setenv("SNNJAX_KERNEL", "xla")
    assert resolve_backend(None, jnp.float32, PARAMS) is get_backend("loop")
    monkeypatch.setenv("SNNJAX_KERNEL", "fortran")
    with pytest.raises(ValueError, match="SNNJAX_KERNEL"):
        requested_backend(None)


def test_a_backend_object_can_be_passed():
    """Any EventBackend works without registration (here: the loop under another name)."""
    loop = get_backend("loop")
    mine = EventBackend(
        name="mine", sort_events=loop.sort_events, forward=loop.forward, backward=loop.backward
    )
    t, w = _random_layer(np.random.default_rng(2))
    cot = jnp.asarray(np.random.default_rng(3).normal(size=(4, 9, 5)), jnp.float32)
    t, w = jnp.asarray(t, jnp.float32), jnp.asarray(w, jnp.float32)
    out_m, g_m = _loss_and_grads(mine, t, w, cot, 5)
    out_l, g_l = _loss_and_grads("loop", t, w, cot, 5)
    for a, b in zip(jax.tree.leaves((out_m, g_m)), jax.tree.leaves((out_l, g_l)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert backend_name(mine) == "mine"


def test_the_backend_reaches_the_layers_of_a_model():
    """build_model -> make_dense_network / make_conv_network -> LIFDense / LIFConv -> lif_layer."""
    from snnjax.configs import get_config
    from snnjax.nn import LIFConv, LIFDense
    from snnjax.train.model import build_model

    for name in ("yinyang_multispike", "mnist_conv"):
        model = build_model(get_config(name), backend="loop")
        spiking = [m for m in model.layers if isinstance(m, (LIFDense, LIFConv))]
        assert spiking
        assert all(m.backend == "loop" for m in spiking)
    layer = LIFDense(features=2, max_spikes=1, backend="fortran")
    with pytest.raises(ValueError, match="unknown event backend 'fortran'"):
        layer.init(jax.random.key(0), jnp.zeros((1, 3, 1)))


@needs_ffi
def test_unsupported_layer_is_an_error_for_a_named_backend():
    per_neuron = snnjax.LIFParams(tau_syn=np.array([0.1, 0.13]), theta=0.2)
    t, w = jnp.zeros((1, 2, 1)), jnp.ones((2, 2))
    with pytest.raises(ValueError, match="'ffi' event backend does not support"):
        snnjax.lif_layer(t, w, per_neuron, max_spikes=1, t_max=1.0, backend="ffi")
    # the automatic choice falls back to the portable loop on CPU ("parallel" elsewhere)
    for dtype, params in [(jnp.float32, per_neuron), (jnp.bfloat16, PARAMS)]:
        auto = resolve_backend("auto", dtype, params)
        assert auto is backends.by_platform(
            get_backend("loop"), **dict.fromkeys(("cuda", "rocm", "tpu"), get_backend("parallel"))
        )
        assert backend_name("auto", platform="cpu", dtype=dtype, params=params) == "loop"
    out = snnjax.lif_layer(t, w, per_neuron, max_spikes=1, t_max=1.0, backend="auto")
    assert out.times.shape == (1, 2, 1)


# --------------------------------------------------------------------------------------
# the automatic choice: per platform, inside the program
# --------------------------------------------------------------------------------------


@needs_ffi
def test_auto_is_ffi_on_cpu_and_parallel_on_accelerators():
    auto = resolve_backend("auto", jnp.float32, PARAMS)
    assert auto is resolve_backend("auto", jnp.float32, PARAMS)  # cached: one jit entry
    assert backend_name("auto", platform="cpu") == "ffi"
    for platform in ("gpu", "cuda", "rocm", "tpu"):
        assert backend_name("auto", platform=platform) == "parallel", platform
    assert backend_name("auto", platform="metal") == "loop"  # no restricted backend there

    def grads(t, w):
        return jax.grad(lambda t, w: _loss(t, w, 1.0, 5, "auto")[0], argnums=(0, 1))(t, w)

    t, w = jnp.zeros((4, 12, 3)), jnp.zeros((12, 9))
    traced = jax.jit(grads).trace(t, w)
    for platform, n_ffi_calls in [("cpu", 2), ("cuda", 0), ("rocm", 0), ("tpu", 0)]:
        text = traced.lower(lowering_platforms=(platform,)).as_text()
        assert text.count("SnnjaxLif") == n_ffi_calls, platform  # forward + backward
        assert ("stablehlo.while" in text) == (n_ffi_calls == 0), platform


@needs_ffi
def test_auto_on_cpu_equals_ffi_bitwise():
    rng = np.random.default_rng(9)
    t, w = _random_layer(rng)
    t, w = jnp.asarray(t, jnp.float32), jnp.asarray(w, jnp.float32)
    cot = jnp.asarray(rng.normal(size=(4, 9, 5)), jnp.float32)
    auto = _loss_and_grads("auto", t, w, cot, 5)
    ffi = _loss_and_grads("ffi", t, w, cot, 5)
    for a, b in zip(jax.tree.leaves(auto), jax.tree.leaves(ffi), strict=True):
        np.testing.assert_array_equal(a, b)
    noise = jnp.asarray(rng.normal(1.0, 0.1, (3,) + w.shape), jnp.float32)

    def f(scale, backend):
        return jax.grad(lambda w: _loss(t, w, cot, 5, backend)[0])(w * scale)

    np.testing.assert_array_equal(
        jax.jit(jax.vmap(lambda s: f(s, "auto")))(noise),
        jax.jit(jax.vmap(lambda s: f(s, "ffi")))(noise),
    )


# --------------------------------------------------------------------------------------
# the old module paths keep working
# --------------------------------------------------------------------------------------


def test_old_import_paths():
    from snnjax import grad, kernel, layer, reference
    from snnjax.lif import LIFParams, crossing_z

    assert layer.lif_layer is snnjax.lif_layer
    assert LIFParams is snnjax.LIFParams
    assert reference.simulate_layer is simulate_layer
    assert float(crossing_z(1.0, 3.0, 2.0)[0]) == 0.5
    rng = np.random.default_rng(4)
    t, w = _random_layer(rng)
    ev_t, ev_src, n_over = kernel.sort_events(jnp.asarray(t), 0.3)
    fw = kernel.forward_events(ev_t, ev_src, jnp.asarray(w), 0.13, 0.2, 0.15, 0.3, 5)
    times, _n_spikes = grad.event_spike_times(ev_t, ev_src, jnp.asarray(w), 0.13, 0.2, 0.15, 0.3, 5)
    new = snnjax.lif_layer(t, w, PARAMS, max_spikes=5, t_max=0.3, backend="loop")
    # (eager op-by-op float32 vs the jitted layer: equal up to rounding)
    np.testing.assert_allclose(fw.times, new.times, atol=1e-6, rtol=0)
    np.testing.assert_allclose(times, new.times, atol=1e-6, rtol=0)
    np.testing.assert_array_equal(np.isfinite(times), np.isfinite(new.times))
    np.testing.assert_array_equal(n_over, 0)
    if "ffi" in BACKENDS:
        from snnjax import cpu_kernel

        assert cpu_kernel.available()
        c_t, c_src, _c_valid = cpu_kernel.sort_events(jnp.asarray(t), 0.3, t[0].size)
        np.testing.assert_array_equal(c_t, ev_t)
        c_times, c_slope, c_index, c_n = cpu_kernel.forward(
            c_t, c_src, jnp.asarray(w), 0.13, 0.2, 0.15, 0.3, 5
        )
        np.testing.assert_allclose(c_times, new.times, atol=2e-5)
        d_w, d_t = cpu_kernel.backward(
            c_t,
            c_src,
            jnp.asarray(w),
            0.13,
            0.15,
            jnp.ones_like(c_times),
            c_times,
            c_slope,
            c_index,
            c_n,
        )
        assert d_w.shape == w.shape
        assert d_t.shape == c_t.shape
        assert isinstance(cpu_kernel.use_cpu_kernel(0.13), bool)
