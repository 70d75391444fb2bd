"""The compiled event lists of a convolution (snnjax.nn.conv_events) equal the gathered
patches sorted one by one: same events, same order, same results and gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnjax
from snnjax.lif.backends import ffi, get_backend
from snnjax.nn import conv_patches, spike_union_pool
from snnjax.nn.conv_events import compiled_conv_events, conv_lif_layer, gathered_conv_events

pytestmark = pytest.mark.skipif(not ffi.available(), reason="compiled CPU kernel unavailable")

T_MAX = 0.2
PARAMS = snnjax.LIFParams(0.13, 0.3)


def _trains(seed, shape, k, p_empty=0.6, ties=False):
    """``[*shape, k]`` sorted trains in ``[0, 0.25)`` (some after ``T_MAX``); with ``ties``
    on a coarse grid, so that equal times across slots occur."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 0.25, tuple(shape) + (k,))
    if ties:
        t = np.round(t * 40) / 40
    t[rng.uniform(size=t.shape) < p_empty] = np.inf
    return np.sort(t, axis=-1).astype(np.float32)


@pytest.mark.parametrize(
    ("shape", "k", "kernel", "n_events", "ties"),
    [
        ((3, 7, 6, 2), 2, (3, 2), None, False),
        ((2, 5, 5, 3), 1, (5, 5), None, True),
        ((2, 6, 8, 1), 3, (2, 4), 5, True),  # bounded: overflow
        ((1, 4, 4, 2), 2, (1, 1), 2, False),
    ],
)
def test_compiled_events_equal_gathered(shape, k, kernel, n_events, ties):
    x = jnp.asarray(_trains(0, shape, k, ties=ties))
    slots = kernel[0] * kernel[1] * shape[-1] * k
    e = slots if n_events is None else n_events
    new, new_over = jax.jit(lambda x: compiled_conv_events(x, kernel, T_MAX, e))(x)
    old, old_over = gathered_conv_events(x, kernel, T_MAX, e, get_backend("loop"))
    np.testing.assert_array_equal(new.times, old.times)
    valid = np.isfinite(np.asarray(old.times))
    np.testing.assert_array_equal(np.asarray(new.source)[valid], np.asarray(old.source)[valid])
    np.testing.assert_array_equal(new_over, old_over)
    if n_events is not None:
        assert int(new_over.sum()) > 0, "the test needs an overflow"


def _old_layer(x, kernel, backend, max_input_events=None):
    """The reference: snnjax.lif_layer on the gathered patches."""
    kh, kw, _, n = kernel.shape
    return snnjax.lif_layer(
        conv_patches(x, (kh, kw)),
        kernel.reshape(-1, n),
        PARAMS,
        max_spikes=3,
        t_max=T_MAX,
        max_input_events=max_input_events,
        backend=backend,
    )


@pytest.mark.parametrize("max_input_events", [None, 6])
def test_conv_layer_equals_lif_layer_on_patches(max_input_events):
    x = jnp.asarray(_trains(1, (2, 7, 7, 2), 2, p_empty=0.5, ties=True))
    kernel = jnp.asarray(np.random.default_rng(2).uniform(-0.2, 1.0, (3, 3, 2, 5)), jnp.float32)
    new = conv_lif_layer(
        x, kernel, PARAMS, max_spikes=3, t_max=T_MAX, max_input_events=max_input_events
    )
    for backend in ("ffi", "loop"):  # the loop backend gathers: an independent path
        old = _old_layer(x, kernel, backend, max_input_events)
        np.testing.assert_allclose(new.times, old.times.reshape(new.times.shape), rtol=2e-6)
        np.testing.assert_array_equal(new.n_dropped, old.n_dropped.reshape(new.n_dropped.shape))
        np.testing.assert_array_equal(new.n_input_overflow, old.n_input_overflow.sum((1, 2)))
    if max_input_events is None:
        assert 10 < int(np.isfinite(new.times).sum()) < new.times.size // 2
    else:
        assert int(new.n_input_overflow.sum()) > 0


def test_conv_layer_gradients_equal_gathered():
    x = jnp.asarray(_trains(3, (2, 6, 6, 2), 2, p_empty=0.5))
    kernel = jnp.asarray(np.random.default_rng(4).uniform(-0.2, 1.0, (3, 3, 2, 4)), jnp.float32)
    coef = jnp.asarray(np.random.default_rng(5).normal(size=(2, 4, 4, 4, 3)), jnp.float32)

    def loss(times):
        return jnp.sum(jnp.where(jnp.isfinite(times), times * coef, 0.0))

    def new(k, t):
        return loss(conv_lif_layer(t, k, PARAMS, max_spikes=3, t_max=T_MAX).times)

    def old(k, t):
        return loss(_old_layer(t, k, "ffi").times.reshape(coef.shape))

    g_new = jax.jit(jax.grad(new, argnums=(0, 1)))(kernel, x)
    g_old = jax.jit(jax.grad(old, argnums=(0, 1)))(kernel, x)
    for a, b in zip(g_new, g_old, strict=True):
        assert float(jnp.abs(b).max()) > 0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(jnp.abs(b).max()))


def test_conv_layer_vmap_folds_into_the_batch():
    x = jnp.asarray(_trains(6, (6, 6, 6, 1), 2, p_empty=0.4))
    kernel = jnp.asarray(np.random.default_rng(7).uniform(-0.2, 1.0, (3, 3, 1, 3)), jnp.float32)

    def times(t, k):
        return conv_lif_layer(t, k, PARAMS, max_spikes=3, t_max=T_MAX).times

    batched = times(x, kernel)
    per_sample = jax.vmap(times, in_axes=(0, None))(x[:, None], kernel)[:, 0]
    np.testing.assert_array_equal(per_sample, batched)
    loss = lambda k, t: jnp.sum(jnp.where(jnp.isfinite(times(t, k)), times(t, k), 0.0))
    g_vmap = jax.grad(lambda k: jnp.sum(jax.vmap(loss, in_axes=(None, 0))(k, x[:, None])))(kernel)
    np.testing.assert_allclose(g_vmap, jax.grad(loss)(kernel, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("max_spikes", [None, 1, 3, 20])
def test_pool_rank_merge_equals_sort(max_spikes):
    """Windows merged by rank (<= 16 slots) give jnp.sort's values and gradient routing,
    ties included (the lower-index slot first)."""
    t = jnp.asarray(_trains(8, (2, 4, 6, 3), 3, p_empty=0.4, ties=True))
    x = t.reshape(2, 2, 2, 3, 2, 3, 3).transpose(0, 1, 3, 5, 2, 4, 6).reshape(2, 2, 3, 3, 12)
    ref = jnp.sort(x, axis=-1)
    if max_spikes is not None:
        keep = min(max_spikes, 12)
        pad = jnp.full(ref.shape[:-1] + (max_spikes - keep,), jnp.inf, ref.dtype)
        ref = jnp.concatenate([ref[..., :keep], pad], axis=-1)
    np.testing.assert_array_equal(spike_union_pool(t, 2, max_spikes), ref)
    coef = jnp.arange(ref.size, dtype=jnp.float32).reshape(ref.shape) + 1.0

    def routed(f, t):
        return jax.grad(lambda t: jnp.sum(jnp.where(jnp.isfinite(f(t)), f(t) * coef, 0.0)))(t)

    def by_sort(t):
        x = t.reshape(2, 2, 2, 3, 2, 3, 3).transpose(0, 1, 3, 5, 2, 4, 6).reshape(2, 2, 3, 3, 12)
        s = jnp.sort(x, axis=-1)
        if max_spikes is None:
            return s
        keep = min(max_spikes, 12)
        pad = jnp.full(s.shape[:-1] + (max_spikes - keep,), jnp.inf, s.dtype)
        return jnp.concatenate([s[..., :keep], pad], axis=-1)

    np.testing.assert_array_equal(
        routed(lambda t: spike_union_pool(t, 2, max_spikes), t), routed(by_sort, t)
    )
