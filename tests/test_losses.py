"""Tests for snnjax.losses: values, exact/surrogate gradients, silence, predictions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from snnjax.losses import (
    accuracy,
    count_cross_entropy,
    first_spike_times,
    predict_from_counts,
    predict_from_first_spike,
    spike_count_loss,
    spike_counts,
    ttfs_cross_entropy,
)

INF = np.inf


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def np_ttfs_ce(t_hat, label, tau):
    """Reference: explicit float64 softmax over the firing outputs."""
    t_hat = np.asarray(t_hat, np.float64)
    fin = np.isfinite(t_hat)
    w = np.where(fin, np.exp(-np.where(fin, t_hat, 0) / tau), 0.0)
    p = w / w.sum()
    return -np.log(p[label]), p


def random_trains(rng, shape, k, p_silent=0.0):
    """Sorted random trains [*shape, k] with some empty slots and silent neurons."""
    t = np.sort(rng.uniform(0.0, 0.05, size=(*shape, k)), axis=-1)
    n = rng.integers(1, k + 1, size=shape)
    n = np.where(rng.uniform(size=shape) < p_silent, 0, n)
    return np.where(np.arange(k) < n[..., None], t, INF)


# -------------------------------------------------------------------- statistics


def test_spike_counts_and_first_spike_times():
    t = jnp.array([[0.01, 0.02, INF], [INF, INF, INF], [0.0, 0.03, 0.04]])
    c = spike_counts(t)
    assert c.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(c), [2, 0, 3])
    np.testing.assert_array_equal(np.asarray(first_spike_times(t)), np.float32([0.01, INF, 0.0]))
    batch = jnp.stack([t, t[::-1]])
    np.testing.assert_array_equal(np.asarray(spike_counts(batch)), [[2, 0, 3], [3, 0, 2]])


# -------------------------------------------------------------- spike-count loss

T_COUNT = np.array(
    [
        [0.01, 0.02, INF, INF],  # n = 2
        [INF, INF, INF, INF],  # n = 0
        [0.01, 0.02, 0.03, 0.04],  # n = 4
    ],
    np.float32,
)


def test_spike_count_loss_value():
    # label 2, targets (1, 1, 4): 0.5 * (1 + 1 + 0) = 1
    loss = spike_count_loss(T_COUNT, jnp.array(2), n_true=4.0, n_false=1.0)
    assert loss.shape == ()
    np.testing.assert_allclose(loss, 1.0)
    # defaults (15, 3), label 0: 0.5 * ((2-15)^2 + (0-3)^2 + (4-3)^2) = 0.5 * 179
    np.testing.assert_allclose(spike_count_loss(T_COUNT, jnp.array(0)), 89.5)


def test_spike_count_surrogate_gradient():
    g = np.asarray(
        jax.grad(lambda t: spike_count_loss(t, jnp.array(2), n_true=4.0, n_false=1.0))(
            jnp.asarray(T_COUNT)
        )
    )
    # y - n = (1 - 2, 1 - 0, 4 - 4) = (-1, 1, 0) on finite slots, 0 on inf slots
    expected = np.array([[-1, -1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(g, expected)
    # Sign convention: the neuron with too many spikes is pushed later by descent.
    t_new = T_COUNT - 1e-3 * g
    assert np.all(t_new[0, :2] > T_COUNT[0, :2])

    g0 = np.asarray(jax.grad(lambda t: spike_count_loss(t, jnp.array(0)))(jnp.asarray(T_COUNT)))
    fin = np.isfinite(T_COUNT)
    y_minus_n = np.array([15 - 2, 3 - 0, 3 - 4], np.float32)
    np.testing.assert_array_equal(g0, np.where(fin, y_minus_n[:, None], 0))
    assert np.all(np.isfinite(g0))


def test_spike_count_loss_batched_weighted_gradient_and_target_gradient():
    rng = np.random.default_rng(0)
    t = random_trains(rng, (2, 3, 4), 5, p_silent=0.3).astype(np.float32)
    labels = rng.integers(0, 4, size=(2, 3))
    w = rng.uniform(0.5, 2.0, size=(2, 3)).astype(np.float32)
    losses = spike_count_loss(t, labels, n_true=5.0, n_false=1.0)
    assert losses.shape == (2, 3)
    n = np.isfinite(t).sum(-1)
    y = np.where(np.eye(4, dtype=bool)[labels], 5.0, 1.0)
    np.testing.assert_allclose(losses, 0.5 * ((n - y) ** 2).sum(-1), rtol=1e-6)
    g = jax.grad(lambda tt: jnp.sum(w * spike_count_loss(tt, labels, n_true=5.0, n_false=1.0)))(
        jnp.asarray(t)
    )
    expected = np.where(np.isfinite(t), (w[..., None] * (y - n))[..., None], 0.0)
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-6)
    # targets are exactly differentiable: dL/dn_true = y_label - n_label
    dn_true = jax.grad(lambda nt: spike_count_loss(t[0, 0], labels[0, 0], n_true=nt))(15.0)
    np.testing.assert_allclose(dn_true, 15.0 - n[0, 0, labels[0, 0]])
    # jit and vmap agree with the eager batched call
    jit_l = jax.jit(lambda tt, ll: spike_count_loss(tt, ll, n_true=5.0, n_false=1.0))(t, labels)
    np.testing.assert_allclose(jit_l, losses)
    vm = jax.vmap(lambda tt, ll: spike_count_loss(tt, ll, n_true=5.0, n_false=1.0))(t, labels)
    np.testing.assert_allclose(vm, losses)


# ---------------------------------------------------------- TTFS cross-entropy


def test_ttfs_ce_value_matches_numpy_softmax():
    rng = np.random.default_rng(1)
    t = random_trains(rng, (6, 5), 3).astype(np.float32)
    labels = rng.integers(0, 5, size=6)
    loss = np.asarray(ttfs_cross_entropy(t, labels, tau_loss=0.005))
    assert loss.shape == (6,)
    for b in range(6):
        ref, _ = np_ttfs_ce(t[b, :, 0], labels[b], 0.005)
        np.testing.assert_allclose(loss[b], ref, rtol=2e-5)


def test_ttfs_ce_hand_computed():
    # two outputs, first spikes 0 and tau*ln 3: p = (3/4, 1/4)
    tau = 0.01
    t = np.array([[0.0, INF], [tau * np.log(3.0), 0.5]], np.float32)
    np.testing.assert_allclose(
        ttfs_cross_entropy(t, jnp.array(0), tau_loss=tau), np.log(4 / 3), rtol=1e-5
    )
    np.testing.assert_allclose(
        ttfs_cross_entropy(t, jnp.array(1), tau_loss=tau), np.log(4.0), rtol=1e-5
    )


def test_ttfs_ce_stable_for_late_spikes():
    # exp(-t/tau) underflows for t/tau ~ 400: a naive softmax gives 0/0.
    t = np.array([[2.0], [2.001], [2.002]], np.float32)
    loss = ttfs_cross_entropy(t, jnp.array(1), tau_loss=0.005)
    ref, _ = np_ttfs_ce(t[:, 0], 1, 0.005)
    np.testing.assert_allclose(loss, ref, rtol=1e-3)


def test_ttfs_ce_gradient_analytic_and_finite_differences(x64):
    rng = np.random.default_rng(2)
    tau = 0.005
    t = jnp.asarray(random_trains(rng, (4, 6), 3), jnp.float64)
    labels = jnp.asarray(rng.integers(0, 6, size=4))
    f = jax.jit(lambda tt: jnp.sum(ttfs_cross_entropy(tt, labels, tau_loss=tau)))
    g = np.asarray(jax.grad(f)(t))
    assert g.dtype == np.float64
    # analytic: (delta_jy - p_j) / tau on slot 0, zero on later slots
    for b in range(4):
        _, p = np_ttfs_ce(np.asarray(t[b, :, 0]), int(labels[b]), tau)
        delta = np.eye(6)[int(labels[b])]
        np.testing.assert_allclose(g[b, :, 0], (delta - p) / tau, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(g[..., 1:], 0.0)
    # central finite differences on every first-spike time
    h = 1e-7
    fd = np.zeros((4, 6))
    for b in range(4):
        for j in range(6):
            e = jnp.zeros_like(t).at[b, j, 0].set(h)
            fd[b, j] = (f(t + e) - f(t - e)) / (2 * h)
    np.testing.assert_allclose(g[..., 0], fd, rtol=1e-6, atol=1e-4)


def test_ttfs_ce_regulariser_value_and_gradient(x64):
    rng = np.random.default_rng(3)
    tau, alpha, beta, tau_syn = 0.005, 0.01, 2.0, 0.013
    t = jnp.asarray(random_trains(rng, (3, 4), 2), jnp.float64)
    labels = jnp.array([0, 3, 1])
    kw = dict(tau_loss=tau, alpha=alpha, beta=beta, tau_syn=tau_syn)
    loss = np.asarray(ttfs_cross_entropy(t, labels, **kw))
    g = np.asarray(jax.grad(lambda tt: jnp.sum(ttfs_cross_entropy(tt, labels, **kw)))(t))
    for b in range(3):
        y = int(labels[b])
        ce, p = np_ttfs_ce(np.asarray(t[b, :, 0]), y, tau)
        t_y = float(t[b, y, 0])
        np.testing.assert_allclose(
            loss[b], ce + alpha * np.expm1(t_y / (beta * tau_syn)), rtol=1e-12
        )
        expected = (np.eye(4)[y] - p) / tau
        expected[y] += alpha / (beta * tau_syn) * np.exp(t_y / (beta * tau_syn))
        np.testing.assert_allclose(g[b, :, 0], expected, rtol=1e-10)
    check_grads(
        lambda tt: ttfs_cross_entropy(tt, labels, **kw),
        (t,),
        order=1,
        modes=["rev"],
        eps=1e-7,
    )


def test_ttfs_ce_silent_non_label_neuron(x64):
    tau = 0.005
    t = jnp.array([[0.010, 0.02], [INF, INF], [0.012, INF]], jnp.float64)
    loss = ttfs_cross_entropy(t, jnp.array(0), tau_loss=tau)
    ref, p = np_ttfs_ce(np.asarray(t[:, 0]), 0, tau)
    assert p[1] == 0.0
    np.testing.assert_allclose(loss, ref, rtol=1e-12)
    g = np.asarray(jax.grad(lambda tt: ttfs_cross_entropy(tt, jnp.array(0), tau_loss=tau))(t))
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[1], 0.0)
    np.testing.assert_allclose(g[:, 0], (np.eye(3)[0] - p) / tau, rtol=1e-12)


def test_ttfs_ce_silent_label_is_inf_with_finite_gradient():
    tau = 0.005
    t = jnp.array([[0.010], [INF], [0.012]], jnp.float32)
    kw = dict(tau_loss=tau, alpha=0.1, tau_syn=0.013)
    loss = ttfs_cross_entropy(t, jnp.array(1), **kw)
    assert np.isposinf(loss)
    g = np.asarray(jax.grad(lambda tt: ttfs_cross_entropy(tt, jnp.array(1), **kw))(t))
    assert np.all(np.isfinite(g))
    _, p = np_ttfs_ce(np.asarray(t[:, 0]), 0, tau)  # p over the firing outputs
    np.testing.assert_allclose(g[:, 0], -p / tau, rtol=1e-5)
    assert g[1, 0] == 0.0


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_ttfs_ce_all_silent_is_uniform_with_zero_gradient(alpha):
    t = jnp.full((2, 4, 3), jnp.inf, jnp.float32)
    t = t.at[1, 2, 0].set(0.01)  # second sample has one firing output
    labels = jnp.array([1, 2])
    kw = dict(alpha=alpha, tau_syn=0.013)
    loss = np.asarray(ttfs_cross_entropy(t, labels, **kw))
    np.testing.assert_allclose(loss[0], np.log(4.0), rtol=1e-6)
    np.testing.assert_allclose(loss[1], alpha * np.expm1(0.01 / 0.013), rtol=1e-5, atol=1e-7)
    g = np.asarray(jax.grad(lambda tt: jnp.sum(ttfs_cross_entropy(tt, labels, **kw)))(t))
    assert np.all(np.isfinite(g))
    np.testing.assert_array_equal(g[0], 0.0)
    # single firing label: p = 1, CE gradient (1 - 1)/tau = 0; only the regulariser remains
    np.testing.assert_allclose(g[1, 2, 0], alpha / 0.013 * np.exp(0.01 / 0.013), rtol=1e-5)


def test_ttfs_ce_batching_and_jit():
    rng = np.random.default_rng(4)
    t = random_trains(rng, (2, 3, 5), 2, p_silent=0.3).astype(np.float32)
    labels = rng.integers(0, 5, size=(2, 3))
    full = np.asarray(ttfs_cross_entropy(t, labels, tau_loss=0.01))
    assert full.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            one = ttfs_cross_entropy(t[i, j], labels[i, j], tau_loss=0.01)
            np.testing.assert_allclose(full[i, j], one, rtol=1e-6)
    jitted = jax.jit(lambda tt, ll, tau: ttfs_cross_entropy(tt, ll, tau_loss=tau))(t, labels, 0.01)
    np.testing.assert_allclose(np.asarray(jitted), full, rtol=1e-6)


# ------------------------------------------------------------------ count cross-entropy


def test_count_ce_hand_computed_value():
    """Counts (2, 1, 0), label 0, T = 1: L = ln(1 + e^-1 + e^-2); T = 2 halves the logits."""
    t = np.array([[0.01, 0.02], [0.03, INF], [INF, INF]])
    np.testing.assert_allclose(
        float(count_cross_entropy(t, jnp.array(0))), np.log(1 + np.exp(-1) + np.exp(-2)), rtol=1e-6
    )
    np.testing.assert_allclose(
        float(count_cross_entropy(t, jnp.array(2), temperature=2.0)),
        np.log(np.exp(1) + np.exp(0.5) + 1),
        rtol=1e-6,
    )


def test_count_ce_surrogate_gradient_hand_computed(x64):
    """dL/dt_jk = (delta_jy - p_j) / T on finite slots, 0 on empty ones; dL/dT exact."""
    t = np.array([[0.01, 0.02, 0.04], [0.03, INF, INF], [INF, INF, INF]])
    counts, label, temp = np.array([3.0, 1.0, 0.0]), 1, 0.7
    p = np.exp(counts / temp) / np.exp(counts / temp).sum()
    g_t, g_temp = jax.grad(
        lambda tt, tmp: count_cross_entropy(tt, jnp.array(label), temperature=tmp), argnums=(0, 1)
    )(jnp.asarray(t), temp)
    expected = np.where(np.isfinite(t), ((np.arange(3) == label) - p)[:, None] / temp, 0.0)
    np.testing.assert_allclose(np.asarray(g_t), expected, rtol=1e-12, atol=1e-15)
    # dL/dT by central differences (the loss is smooth in T)
    h = 1e-6
    fd = (
        count_cross_entropy(t, jnp.array(label), temperature=temp + h)
        - count_cross_entropy(t, jnp.array(label), temperature=temp - h)
    ) / (2 * h)
    np.testing.assert_allclose(float(g_temp), float(fd), rtol=1e-6)


def test_count_ce_stable_for_large_counts_and_batched():
    """500 vs 0 spikes: the loss is exactly 0 or 500/T, never inf or NaN; batches and jit
    agree with single samples."""
    k = 500
    winner = np.tile(np.linspace(0.0, 0.1, k), (1, 1))
    t = np.concatenate([winner, np.full((1, k), INF)], axis=0)[None]  # [1, 2, K]
    assert float(count_cross_entropy(t, jnp.array([0]))[0]) == 0.0
    np.testing.assert_allclose(float(count_cross_entropy(t, jnp.array([1]))[0]), 500.0, rtol=1e-6)
    g = jax.grad(lambda tt: count_cross_entropy(tt, jnp.array([1])).sum())(jnp.asarray(t))
    assert np.isfinite(np.asarray(g)).all()
    rng = np.random.default_rng(3)
    trains = random_trains(rng, (4, 3), 5, p_silent=0.3)
    labels = rng.integers(0, 3, size=4)
    full = np.asarray(jax.jit(count_cross_entropy)(trains, labels))
    for i in range(4):
        np.testing.assert_allclose(full[i], count_cross_entropy(trains[i], labels[i]), rtol=1e-6)


def test_count_ce_all_silent_is_uniform_with_zero_gradient():
    t = np.full((3, 2), INF)
    np.testing.assert_allclose(float(count_cross_entropy(t, jnp.array(1))), np.log(3), rtol=1e-6)
    g = jax.grad(lambda tt: count_cross_entropy(tt, jnp.array(1)))(jnp.asarray(t))
    np.testing.assert_array_equal(np.asarray(g), 0.0)
    pred, silent = predict_from_counts(t[None])
    assert int(pred[0]) == -1
    assert bool(silent[0])


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, [1.0, 2.0]])
def test_count_ce_rejects_bad_temperature(bad):
    with pytest.raises(ValueError, match="temperature"):
        count_cross_entropy(T_COUNT, jnp.array(0), temperature=bad)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("fn", [spike_count_loss, count_cross_entropy, ttfs_cross_entropy])
def test_loss_input_validation(fn):
    t = T_COUNT
    with pytest.raises(ValueError, match="labels of shape"):
        fn(t, jnp.array([0, 1]))
    with pytest.raises(ValueError, match="labels must lie"):
        fn(t, jnp.array(3))
    with pytest.raises(ValueError, match="labels must lie"):
        fn(t, jnp.array(-1))
    with pytest.raises(ValueError, match="integers"):
        fn(t, jnp.array(1.0))
    with pytest.raises(ValueError, match="NaN"):
        fn(np.where(np.isinf(t), t, np.nan), jnp.array(0))
    with pytest.raises(ValueError, match="negative"):
        fn(-np.abs(np.where(np.isinf(t), 1.0, t)), jnp.array(0))
    with pytest.raises(ValueError, match="sorted"):
        fn(t[:, ::-1].copy(), jnp.array(0))
    with pytest.raises(ValueError, match="shape"):
        fn(t[0], jnp.array(0))


def test_ttfs_ce_requires_tau_syn_and_positive_scales():
    with pytest.raises(ValueError, match="tau_syn"):
        ttfs_cross_entropy(T_COUNT, jnp.array(0), alpha=0.1)
    with pytest.raises(ValueError, match="tau_loss"):
        ttfs_cross_entropy(T_COUNT, jnp.array(0), tau_loss=0.0)
    # alpha == 0 needs no tau_syn
    assert np.isfinite(ttfs_cross_entropy(T_COUNT, jnp.array(0)))


# ------------------------------------------------------------------ predictions


def test_predict_from_counts_ties_and_silence():
    t = jnp.array(
        [
            # counts (2, 2, 1): tie between 0 and 1, neuron 1 spikes first -> 1
            [[0.02, 0.03], [0.01, 0.04], [0.0, INF]],
            # counts (1, 2, 2) with equal first spikes -> lowest index 1
            [[0.0, INF], [0.01, 0.02], [0.01, 0.03]],
            # all silent
            [[INF, INF], [INF, INF], [INF, INF]],
            # clear winner 2 even though neuron 0 spikes earliest
            [[0.0, INF], [INF, INF], [0.01, 0.02]],
        ]
    )
    pred, silent = predict_from_counts(t)
    assert pred.dtype == jnp.int32
    assert silent.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(pred), [1, 1, -1, 2])
    np.testing.assert_array_equal(np.asarray(silent), [False, False, True, False])
    pj, sj = jax.jit(predict_from_counts)(t)
    np.testing.assert_array_equal(np.asarray(pj), np.asarray(pred))
    np.testing.assert_array_equal(np.asarray(sj), np.asarray(silent))
    pb, sb = predict_from_counts(t.reshape(2, 2, 3, 2))
    np.testing.assert_array_equal(np.asarray(pb), [[1, 1], [-1, 2]])
    np.testing.assert_array_equal(np.asarray(sb), [[False, False], [True, False]])


def test_predict_from_first_spike_ties_and_silence():
    t = jnp.array(
        [
            [[0.02], [0.01], [INF]],
            [[0.01], [INF], [0.01]],  # tie -> lowest index
            [[INF], [INF], [INF]],
        ]
    )
    pred, silent = predict_from_first_spike(t)
    assert pred.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(pred), [1, 0, -1])
    np.testing.assert_array_equal(np.asarray(silent), [False, False, True])
    pj, _ = jax.jit(predict_from_first_spike)(t)
    np.testing.assert_array_equal(np.asarray(pj), [1, 0, -1])


def test_accuracy_counts_silent_as_wrong():
    acc = accuracy(jnp.array([0, -1, 2, 1]), jnp.array([0, 0, 1, 1]))
    np.testing.assert_allclose(acc, 0.5)
    t = jnp.full((2, 3, 1), jnp.inf)  # all silent: never "class 0"
    pred, _ = predict_from_first_spike(t)
    assert float(accuracy(pred, jnp.array([0, 0]))) == 0.0
    np.testing.assert_allclose(
        accuracy(jnp.array([[1, 2], [0, 0]]), jnp.array([[1, 2], [0, 1]])), 0.75
    )
    with pytest.raises(ValueError, match="does not match labels shape"):
        accuracy(jnp.array([0, 1]), jnp.array([0]))


# ------------------------------------------- issue 13: extreme values, NaN predictions


def np_ttfs_ce_shifted(t_hat, label, tau):
    """float64 oracle measured from the earliest first spike (exact for any offset)."""
    t_hat = np.asarray(t_hat, np.float64)
    fin = np.isfinite(t_hat)
    d = np.where(fin, t_hat - t_hat[fin].min(), 0.0) / tau
    return np.log(np.sum(np.where(fin, np.exp(-d), 0.0))) + d[label]


@pytest.mark.parametrize("tau_loss", [1e-6, 1e-20, 1e-30, 1e-37])
def test_ttfs_tiny_tau_loss_is_exact(tau_loss):
    t = jnp.array([[[0.01], [0.02]], [[0.01], [INF]]], jnp.float32)
    # label first (and alone at the front): p_y = 1 up to exp(-(0.01 / tau)) = 0, loss 0.
    loss = ttfs_cross_entropy(t, jnp.array([0, 0]), tau_loss=tau_loss)
    np.testing.assert_array_equal(np.asarray(loss), [0.0, 0.0])
    # label second: loss = (t_y - t_0) / tau exactly (the other term underflows to 0).
    late = ttfs_cross_entropy(t[:1], jnp.array([1]), tau_loss=tau_loss)
    expected = (np.float32(0.02) - np.float32(0.01)) / np.float32(tau_loss)
    np.testing.assert_allclose(np.asarray(late), [expected], rtol=1e-6)
    g = jax.grad(lambda x: ttfs_cross_entropy(x, jnp.array([0, 1]), tau_loss=tau_loss).sum())(t)
    assert np.isfinite(np.asarray(g)).all()


def test_ttfs_rejects_subnormal_tau_loss():
    t = jnp.array([[[0.01], [0.02]]], jnp.float32)
    with pytest.raises(ValueError, match=r"tau_loss must be .*smallest normal float32"):
        ttfs_cross_entropy(t, jnp.array([0]), tau_loss=1e-40)


@pytest.mark.parametrize("offset", [1e3, 1e5, 3e6])
def test_ttfs_late_first_spikes_keep_their_loss(offset):
    # Spacings that are exact in float32 at this offset: the loss must not depend on it.
    ulp = float(np.spacing(np.float32(offset)))
    steps = np.array([[0, 1, 3, 7], [2, 0, 5, 1]], np.float64)
    t64 = offset + steps * ulp
    t = jnp.asarray(t64[..., None], jnp.float32)
    tau = 2.0 * ulp
    labels = np.array([2, 1])
    loss = np.asarray(ttfs_cross_entropy(t, jnp.asarray(labels), tau_loss=tau))
    oracle = [np_ttfs_ce_shifted(t64[b], labels[b], tau) for b in range(2)]
    np.testing.assert_allclose(loss, oracle, rtol=2e-6)
    at_zero = ttfs_cross_entropy(
        jnp.asarray(steps[..., None] * ulp, jnp.float32), jnp.asarray(labels), tau_loss=tau
    )
    np.testing.assert_allclose(loss, np.asarray(at_zero), rtol=2e-6)


def test_ttfs_late_spikes_hand_computed():
    # first spikes at 1e5 s and 1e5 s + 1/128 s, tau_L = 5 ms: L = ln(1 + exp(-1.5625)).
    t = jnp.array([[[1e5], [1e5 + 0.0078125]]], jnp.float32)
    loss = ttfs_cross_entropy(t, jnp.array([0]), tau_loss=0.005)
    np.testing.assert_allclose(np.asarray(loss), [np.log1p(np.exp(-1.5625))], rtol=1e-6)
    loss1 = ttfs_cross_entropy(t, jnp.array([1]), tau_loss=0.005)
    np.testing.assert_allclose(np.asarray(loss1), [np.log1p(np.exp(1.5625))], rtol=1e-6)


def test_ttfs_gradient_unchanged_by_the_shift(x64):
    rng = np.random.default_rng(5)
    t = jnp.asarray(random_trains(rng, (4, 3), 2, p_silent=0.2))
    y = jnp.asarray(rng.integers(0, 3, size=4))
    check_grads(lambda x: ttfs_cross_entropy(x, y, tau_loss=0.01), (t,), order=1, modes=("rev",))


@pytest.mark.parametrize(
    ("fn", "kw", "name"),
    [
        (ttfs_cross_entropy, dict(alpha=float("nan"), tau_syn=0.1), "alpha"),
        (ttfs_cross_entropy, dict(alpha=-1.0, tau_syn=0.1), "alpha"),
        (ttfs_cross_entropy, dict(tau_loss=float("inf")), "tau_loss"),
        (spike_count_loss, dict(n_true=float("nan")), "n_true"),
        (spike_count_loss, dict(n_false=float("inf")), "n_false"),
        (spike_count_loss, dict(n_true=[1.0, 2.0]), "n_true"),
        (count_cross_entropy, dict(temperature=1e-45), "temperature"),
    ],
)
def test_loss_parameters_are_validated(fn, kw, name):
    t = jnp.array([[[0.01], [0.02]]], jnp.float32)
    with pytest.raises(ValueError, match=name):
        fn(t, jnp.array([0]), **kw)


@pytest.mark.parametrize("fn", [spike_count_loss, ttfs_cross_entropy, count_cross_entropy])
def test_loss_parameters_reject_strings_and_bools(fn):
    t = jnp.array([[[0.01], [0.02]]], jnp.float32)
    key = {
        spike_count_loss: "n_true",
        ttfs_cross_entropy: "tau_loss",
        count_cross_entropy: "temperature",
    }[fn]
    for bad in ("1.0", True):
        with pytest.raises(TypeError, match=key):
            fn(t, jnp.array([0]), **{key: bad})


def test_nan_never_wins_a_prediction():
    t = jnp.array(
        [
            [[np.nan], [0.02], [0.03]],  # NaN first-spike slot: no spike
            [[np.nan], [np.nan], [np.nan]],  # nothing but NaN: silent
            [[-INF], [0.05], [INF]],  # -inf is no spike either
        ],
        jnp.float32,
    )
    pred, silent = predict_from_first_spike(t)
    assert pred.tolist() == [1, -1, 1]
    assert silent.tolist() == [False, True, False]
    pred, silent = predict_from_counts(jnp.concatenate([t, t], axis=-1))
    assert pred.tolist() == [1, -1, 1]
    assert silent.tolist() == [False, True, False]


def test_nan_never_wins_a_count_tie():
    # both outputs have one finite spike; the tie-break takes the earliest real spike:
    # neuron 0's NaN is none (in argmin it would compare "earliest"), its 0.01 is
    t = jnp.array([[[np.nan, 0.01], [0.02, INF]], [[np.nan, 0.03], [0.02, INF]]], jnp.float32)
    pred, _ = predict_from_counts(t)
    assert pred.tolist() == [0, 1]
    t2 = jnp.array([[[np.nan, INF], [0.02, INF]]], jnp.float32)
    assert predict_from_counts(t2)[0].tolist() == [1]
    # an unsorted train never makes a neuron without a spike win
    t3 = jnp.array([[[INF, INF], [INF, 0.0]]], jnp.float32)
    assert predict_from_counts(t3)[0].tolist() == [1]
    assert predict_from_first_spike(t3)[0].tolist() == [1]


@pytest.mark.parametrize("temperature", [1.2e-38, 1e-30])
def test_count_cross_entropy_tiny_temperature_is_never_nan(temperature):
    # counts 30, 5, 0: n / T overflows float32, the differences from the top count do not
    # all: the label with the top count has loss exactly 0, the others +inf (exact overflow)
    t = np.full((3, 3, 30), np.inf, np.float32)
    t[:, 0, :] = np.linspace(0.001, 0.03, 30)
    t[:, 1, :5] = np.linspace(0.001, 0.005, 5)
    times = jnp.asarray(t)
    labels = jnp.array([0, 1, 2])
    loss = np.asarray(count_cross_entropy(times, labels, temperature=temperature))
    assert loss[0] == 0.0
    assert not np.isnan(loss).any()
    with np.errstate(over="ignore"):  # 25 / 1.2e-38 overflows float32: +inf expected
        expected = np.float32(25) / np.float32(temperature)
    np.testing.assert_allclose(loss[1], expected, rtol=1e-6)
    g_t, g_temp = jax.grad(
        lambda x, tmp: count_cross_entropy(x, labels[:1], temperature=tmp).sum(), argnums=(0, 1)
    )(times[:1], jnp.float32(temperature))
    assert not np.isnan(np.asarray(g_t)).any()
    assert not np.isnan(float(g_temp))


def test_ttfs_beta_none_is_named():
    t = jnp.array([[[0.01], [0.02]]], jnp.float32)
    with pytest.raises(TypeError, match="beta must be a real number"):
        ttfs_cross_entropy(t, jnp.array([0]), beta=None, alpha=1.0, tau_syn=0.01)
