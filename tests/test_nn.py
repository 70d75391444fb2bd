"""Tests of the Flax modules (snnjax.nn): they must equal the functional core exactly."""

from __future__ import annotations

import chex
import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnjax
from snnjax.nn import (
    Flatten,
    LIFConv,
    LIFDense,
    SpikeUnionPool,
    SpikingNetwork,
    conv_patches,
    make_conv_network,
    make_dense_network,
    make_init,
    make_network,
    normal_init,
    pool_dropped,
    spike_union_pool,
    uniform_init,
)

INF = np.inf


def random_trains(rng, shape, k, t_hi=0.1, p_empty=0.3):
    """``[*shape, k]`` sorted spike trains in ``[0, t_hi)``, each slot empty w.p. p_empty."""
    t = rng.uniform(0.0, t_hi, tuple(shape) + (k,))
    t[rng.uniform(size=t.shape) < p_empty] = INF
    return np.sort(t, axis=-1)


def finite_sum(t, coef):
    """A smooth scalar loss of spike trains: ``sum(coef * t)`` over the non-empty slots."""
    return jnp.sum(jnp.where(jnp.isfinite(t), coef * t, 0.0))


# ----------------------------------------------------------------------------------------
# initialisers


def test_initialisers():
    key = jax.random.key(0)
    w = uniform_init(-1.0, 1.0)(key, (200, 50))
    assert w.shape == (200, 50)
    assert w.dtype == jnp.float32
    assert float(w.min()) >= -1
    assert float(w.max()) < 1
    assert float(w.min()) < -0.99
    w = normal_init(0.5, 0.1)(key, (200, 50), jnp.float32)
    assert abs(float(w.mean()) - 0.5) < 0.01
    assert abs(float(w.std()) - 0.1) < 0.01
    w = make_init(["uniform", 0, 1])(key, (100,))
    assert float(w.min()) >= 0
    assert make_init(uniform_init) is uniform_init
    with pytest.raises(ValueError, match="init must be"):
        make_init(("glorot", 0, 1))
    with pytest.raises(ValueError, match="high > low"):
        uniform_init(1.0, 0.0)


# ----------------------------------------------------------------------------------------
# LIFDense


def test_dense_equals_lif_layer():
    rng = np.random.default_rng(0)
    x = jnp.asarray(random_trains(rng, (3, 6), 2), jnp.float32)
    layer = LIFDense(
        features=4,
        max_spikes=3,
        tau_syn=0.13,
        theta=0.3,
        delta_theta=0.25,
        t_max=0.2,
        kernel_init=uniform_init(-0.5, 2.0),
    )
    variables = jax.jit(layer.init)(jax.random.key(1), x)
    kernel = variables["params"]["kernel"]
    assert kernel.shape == (6, 4)
    assert kernel.dtype == jnp.float32
    out = layer.apply(variables, x)
    ref = jax.jit(
        lambda t, w: snnjax.lif_layer(
            t, w, snnjax.LIFParams(0.13, 0.3, 0.25), max_spikes=3, t_max=0.2
        )
    )(x, kernel)
    assert isinstance(out, snnjax.LayerOutput)
    assert out.times.shape == (3, 4, 3)
    assert out.n_dropped.shape == (3, 4)
    assert out.n_input_overflow.shape == (3,)
    np.testing.assert_allclose(out.times, ref.times, rtol=1e-6)  # eager module == jit core
    np.testing.assert_array_equal(out.n_dropped, ref.n_dropped)
    assert np.isfinite(out.times).sum() >= 4, "the test needs spikes"
    with pytest.raises(flax.errors.ScopeParamShapeError):
        layer.apply(variables, x[:, :5])


# ----------------------------------------------------------------------------------------
# LIFConv

CONV_T_MAX = 0.25


def _conv_setup(dtype):
    rng = np.random.default_rng(3)
    x = jnp.asarray(random_trains(rng, (2, 6, 6, 2), 2, p_empty=0.25), dtype)
    conv = LIFConv(
        features=2,
        kernel_size=(3, 3),
        max_spikes=2,
        tau_syn=0.13,
        theta=0.4,
        t_max=CONV_T_MAX,
        kernel_init=uniform_init(-0.3, 1.0),
        param_dtype=dtype,
    )
    variables = jax.jit(conv.init)(jax.random.key(2), x)
    return x, conv, variables


def test_conv_patches_order():
    x = jnp.arange(2 * 5 * 4 * 3 * 1, dtype=jnp.float32).reshape(2, 5, 4, 3, 1)
    p = conv_patches(x, (2, 3))
    assert p.shape == (2, 4, 2, 2 * 3 * 3, 1)
    np.testing.assert_array_equal(p[1, 2, 1], x[1, 2:4, 1:4].reshape(18, 1))
    with pytest.raises(ValueError, match="larger than the input"):
        conv_patches(x, (6, 1))


def test_conv_equals_lif_layer_on_each_patch():
    x, conv, variables = _conv_setup(jnp.float32)
    kernel = variables["params"]["kernel"]
    assert kernel.shape == (3, 3, 2, 2)
    out = jax.jit(conv.apply)(variables, x)
    assert out.times.shape == (2, 4, 4, 2, 2)
    assert out.n_dropped.shape == (2, 4, 4, 2)
    assert out.n_input_overflow.shape == (2,)
    n_spikes = int(np.isfinite(out.times).sum())
    assert 20 < n_spikes < out.times.size, "the test needs spiking and silent neurons"
    w = kernel.reshape(18, 2)
    dense = jax.jit(
        lambda p: snnjax.lif_layer(
            p, w, snnjax.LIFParams(0.13, 0.4), max_spikes=2, t_max=CONV_T_MAX
        )
    )
    xn = np.asarray(x)
    for i in range(4):
        for j in range(4):
            patch = xn[:, i : i + 3, j : j + 3].reshape(2, 18, 2)  # (di, dj, c) row-major
            ref = dense(jnp.asarray(patch))
            np.testing.assert_allclose(out.times[:, i, j], ref.times, rtol=1e-6, atol=0)
            np.testing.assert_array_equal(out.n_dropped[:, i, j], ref.n_dropped)


def test_conv_input_overflow_is_reported_per_sample():
    x = np.full((2, 4, 4, 1, 1), INF)
    x[0, :3, :3, 0, 0] = 0.01 * np.arange(9).reshape(3, 3)  # 9 spikes in sample 0
    conv = LIFConv(features=1, kernel_size=(3, 3), max_spikes=1, max_input_events=4)
    variables = {"params": {"kernel": jnp.ones((3, 3, 1, 1))}}
    out = conv.apply(variables, jnp.asarray(x, jnp.float32))
    # events per receptive field: 9, 6, 6, 4 in sample 0 -> 5 + 2 + 2 + 0 ignored
    np.testing.assert_array_equal(out.n_input_overflow, [9, 0])


def test_conv_gradients_match_finite_differences():
    with jax.enable_x64(True):
        x, conv, variables = _conv_setup(jnp.float64)
        kernel = variables["params"]["kernel"]
        assert kernel.dtype == jnp.float64
        coef = jnp.asarray(np.random.default_rng(4).normal(size=(2, 4, 4, 2, 2)))

        def loss_and_pattern(k, t):
            out = conv.apply({"params": {"kernel": k}}, t).times
            return finite_sum(out, coef), jnp.isfinite(out)

        g_k, g_x = jax.jit(jax.grad(lambda k, t: loss_and_pattern(k, t)[0], argnums=(0, 1)))(
            kernel, x
        )
        assert np.isfinite(g_k).all()
        assert np.isfinite(g_x).all()
        # Central differences along every kernel entry and every non-empty input slot, plus
        # the unperturbed point, evaluated in one vmapped call.
        h = 1e-6
        finite = np.flatnonzero(np.isfinite(np.asarray(x)))
        n_k, n_x = kernel.size, len(finite)
        dk = np.zeros((n_k + n_x, kernel.size))
        dk[np.arange(n_k), np.arange(n_k)] = h
        dx = np.zeros((n_k + n_x, x.size))
        dx[n_k + np.arange(n_x), finite] = h
        dk = np.concatenate([dk, -dk, np.zeros((1, kernel.size))]).reshape((-1,) + kernel.shape)
        dx = np.concatenate([dx, -dx, np.zeros((1, x.size))]).reshape((-1,) + x.shape)
        vals, patterns = jax.jit(jax.vmap(loss_and_pattern))(kernel + dk, x + dx)
        patterns = np.asarray(patterns)
        # the set of spikes must not change within +-h (else FD is meaningless)
        assert (patterns == patterns[-1]).all()
        assert patterns[-1].sum() > 20, "the test needs spikes"
        assert patterns[-1][..., 1].sum() > 5, "the test needs second spikes (resets)"
        n = n_k + n_x
        fd = np.asarray(vals[:n] - vals[n : 2 * n]) / (2 * h)
        fd_k, fd_x = fd[:n_k], fd[n_k:]
        np.testing.assert_allclose(
            np.asarray(g_k).ravel(), fd_k, rtol=1e-5, atol=1e-6 * np.abs(fd_k).max()
        )
        assert np.abs(fd_k).min() > 0
        np.testing.assert_allclose(
            np.asarray(g_x).ravel()[finite], fd_x, rtol=1e-5, atol=1e-6 * np.abs(fd_x).max()
        )
        assert (np.abs(fd_x) > 0).sum() > 20
        # empty slots (inf) get exactly zero gradient
        assert (np.asarray(g_x)[~np.isfinite(np.asarray(x))] == 0).all()


# ----------------------------------------------------------------------------------------
# pooling


def _reference_union(t, window):
    b, h, w, c, k = t.shape
    out = np.empty((b, h // window, w // window, c, window * window * k))
    for i in range(h // window):
        for j in range(w // window):
            block = t[:, i * window : (i + 1) * window, j * window : (j + 1) * window]
            block = np.moveaxis(block, 3, 1).reshape(b, c, -1)  # [b, c, wh*ww*k]
            out[:, i, j] = np.sort(block, axis=-1)
    return out


def test_spike_union_pool_values():
    rng = np.random.default_rng(5)
    t = random_trains(rng, (2, 4, 6, 3), 2, p_empty=0.4)
    pooled = np.asarray(spike_union_pool(jnp.asarray(t)))
    assert pooled.shape == (2, 2, 3, 3, 8)
    np.testing.assert_array_equal(pooled, _reference_union(t, 2).astype(np.float32))
    assert (np.sort(pooled, axis=-1) == pooled).all()
    assert np.isfinite(pooled).sum() == np.isfinite(t).sum()  # counts preserved
    first = np.asarray(spike_union_pool(jnp.asarray(t), max_spikes=1))
    assert first.shape == (2, 2, 3, 3, 1)
    block_min = t.reshape(2, 2, 2, 3, 2, 3, 2).min(axis=(2, 4, 6))  # min over window
    np.testing.assert_array_equal(first[..., 0], block_min.astype(np.float32))
    three = spike_union_pool(jnp.asarray(t), max_spikes=3)
    np.testing.assert_array_equal(three, pooled[..., :3])
    padded = spike_union_pool(jnp.asarray(t), max_spikes=10)
    np.testing.assert_array_equal(padded[..., :8], pooled)
    assert np.isinf(padded[..., 8:]).all()
    np.testing.assert_array_equal(
        pool_dropped(jnp.asarray(t), three),
        np.isfinite(t).reshape(2, -1).sum(1) - np.isfinite(pooled[..., :3]).reshape(2, -1).sum(1),
    )
    assert SpikeUnionPool(window=(2, 3)).apply({}, jnp.asarray(t)).shape == (2, 2, 2, 3, 12)
    with pytest.raises(ValueError, match="not divisible"):
        spike_union_pool(jnp.asarray(t), window=4)


@pytest.mark.parametrize("max_spikes", [None, 3])
def test_spike_union_pool_gradient_routing(max_spikes):
    rng = np.random.default_rng(6)
    t = random_trains(rng, (1, 2, 2, 2), 3, p_empty=0.3)
    k_out = 12 if max_spikes is None else max_spikes
    coef = rng.normal(size=(1, 1, 1, 2, k_out))
    grad = np.asarray(
        jax.grad(lambda x: finite_sum(spike_union_pool(x, 2, max_spikes), coef))(jnp.asarray(t))
    )
    expected = np.zeros_like(t)
    for c in range(2):
        src = [(i, j, s) for i in range(2) for j in range(2) for s in range(3)]
        vals = np.array([t[0, i, j, c, s] for i, j, s in src])
        order = np.argsort(vals, kind="stable")
        for slot, n in enumerate(order[:k_out]):
            if np.isfinite(vals[n]):
                i, j, s = src[n]
                expected[0, i, j, c, s] = coef[0, 0, 0, c, slot]
    np.testing.assert_allclose(grad, expected, rtol=1e-6)
    assert (grad != 0).sum() >= 4


# ----------------------------------------------------------------------------------------
# networks


def test_dense_network_forward_grad_jit():
    net = make_dense_network(
        sizes=(6, 5, 3),
        thetas=(0.15, 0.2),
        max_spikes=(3, 4),
        tau_syn=0.13,
        t_max=0.3,
        init=("uniform", -0.3, 1.5),
    )
    rng = np.random.default_rng(7)
    x = jnp.asarray(random_trains(rng, (4, 6), 2), jnp.float32)
    params = jax.jit(net.init)(jax.random.key(3), x)

    def loss(p):
        out = net.apply(p, x)
        return finite_sum(out.times, 1.0), out

    (_, out), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    assert [t.shape for t in out.layer_times] == [(4, 5, 3), (4, 3, 4)]
    np.testing.assert_array_equal(out.times, out.layer_times[-1])
    assert len(out.n_dropped) == 2
    assert all(d.shape == (4,) for d in out.n_dropped)
    assert all(o.shape == (4,) for o in out.n_input_overflow)
    assert out.n_pool_dropped == ()
    # equals chaining the functional core by hand
    w0, w1 = (params["params"][f"layers_{i}"]["kernel"] for i in range(2))

    @jax.jit
    def by_hand(x):
        h = snnjax.lif_layer(x, w0, snnjax.LIFParams(0.13, 0.15), max_spikes=3, t_max=0.3)
        y = snnjax.lif_layer(h.times, w1, snnjax.LIFParams(0.13, 0.2), max_spikes=4, t_max=0.3)
        return h, y

    h, y = by_hand(x)
    np.testing.assert_array_equal(out.layer_times[0], h.times)
    np.testing.assert_array_equal(out.times, y.times)
    np.testing.assert_array_equal(out.n_dropped[0], h.n_dropped.sum(-1))
    assert out.n_dropped[0].max() > 0, "the test needs a full buffer"
    assert np.isfinite(out.times).sum() > 0, "the test needs output spikes"
    # gradients of a scalar loss reach every parameter
    chex.assert_tree_all_finite(grads)
    for g in jax.tree_util.tree_leaves(grads):
        assert np.abs(g).max() > 0
    with pytest.raises(ValueError, match="per-sample shape"):
        net.apply(params, x[:, :5])


def test_conv_network_forward_and_grad():
    net = make_conv_network(
        input_shape=(8, 8, 1),
        conv_features=(2,),
        kernel_size=3,
        dense_sizes=(3,),
        thetas=(0.1, 0.3),
        max_spikes=(2, 3),
        t_max=0.2,
        init=[("uniform", 0.0, 1.0), ("uniform", -0.2, 1.0)],
        pool_max_spikes=5,
    )
    assert [type(m).__name__ for m in net.layers] == [
        "LIFConv",
        "SpikeUnionPool",
        "Flatten",
        "LIFDense",
    ]
    rng = np.random.default_rng(8)
    x = jnp.asarray(random_trains(rng, (2, 8, 8, 1), 1, p_empty=0.5), jnp.float32)
    params = jax.jit(net.init)(jax.random.key(4), x)

    def loss(p):
        out = net.apply(p, x)
        return finite_sum(out.times, 1.0), out

    (_, out), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    assert [t.shape for t in out.layer_times] == [
        (2, 6, 6, 2, 2),
        (2, 3, 3, 2, 5),
        (2, 18, 5),
        (2, 3, 3),
    ]
    assert len(out.n_dropped) == 2
    assert len(out.n_pool_dropped) == 1
    assert out.n_pool_dropped[0].shape == (2,)
    assert (out.n_pool_dropped[0] >= 0).all()
    assert np.isfinite(out.times).sum() > 0
    assert np.isfinite(out.layer_times[0]).sum() > 0
    assert set(grads["params"]) == {"layers_0", "layers_3"}
    chex.assert_tree_all_finite(grads)
    for g in jax.tree_util.tree_leaves(grads):
        assert np.abs(g).max() > 0


def test_paper_architectures_shapes():
    conv = make_conv_network()
    kinds = [type(m).__name__ for m in conv.layers]
    assert kinds == [
        "LIFConv",
        "SpikeUnionPool",
        "LIFConv",
        "SpikeUnionPool",
        "Flatten",
        "LIFDense",
        "LIFDense",
    ]
    spiking = [m for m in conv.layers if isinstance(m, (LIFConv, LIFDense))]
    assert [m.theta for m in spiking] == [0.04, 0.8, 0.6, 0.3]
    assert [m.max_spikes for m in spiking] == [1, 3, 10, 30]
    assert all(m.t_max == 0.2 and m.tau_syn == 0.13 for m in spiking)
    x = jax.ShapeDtypeStruct((2, 28, 28, 1, 1), jnp.float32)
    shapes = jax.eval_shape(conv.init, jax.random.key(0), x)["params"]
    assert {k: v["kernel"].shape for k, v in shapes.items()} == {
        "layers_0": (5, 5, 1, 15),
        "layers_2": (5, 5, 15, 40),
        "layers_5": (640, 300),
        "layers_6": (300, 10),
    }
    dense = make_dense_network()
    assert [(m.features, m.theta, m.max_spikes) for m in dense.layers] == [
        (800, 0.2, 30),
        (10, 1.3, 30),
    ]
    assert dense.input_shape == (784,)
    with pytest.raises(ValueError, match="thetas needs 2"):
        make_dense_network(thetas=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="'type' must be"):
        make_network([{"type": "lstm"}])
    # a hand-built network and Flatten on its own
    net = SpikingNetwork([Flatten(), LIFDense(2, max_spikes=1)])
    assert net.layers[0].apply({}, jnp.zeros((3, 2, 2, 4, 1))).shape == (3, 16, 1)
