"""Tests for snnjax.encoding: latency encoding values, shapes, validation, transforms."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp

from snnjax.encoding import count_active_inputs, latency_encode

IMG = np.array([[0, 128], [255, 51]], dtype=np.uint8)


def test_hand_made_image_values():
    t = np.asarray(latency_encode(IMG))
    assert t.shape == (4, 1)
    assert t.dtype == np.float32
    assert np.isposinf(t[0, 0])  # pixel 0 -> no spike
    np.testing.assert_allclose(t[1, 0], 0.1 * (1 - 128 / 255), rtol=1e-6)  # 0.0498039...
    assert t[2, 0] == 0.0  # pixel 255 -> t = 0 exactly
    np.testing.assert_allclose(t[3, 0], 0.08, rtol=1e-6)  # 51/255 = 0.2


def test_t_window_and_max_value():
    x = np.array([0.0, 0.25, 0.5, 1.0], dtype=np.float32)
    t = np.asarray(latency_encode(x, t_window=0.02, max_value=1.0, image_ndim=1))[:, 0]
    np.testing.assert_allclose(t[1:], [0.015, 0.01, 0.0], rtol=1e-6, atol=0)
    assert np.isposinf(t[0])


def test_float64_dtype():
    with jax.enable_x64(True):
        t = latency_encode(IMG, dtype=jnp.float64)
        assert t.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(t)[1, 0], 0.1 * 127 / 255, rtol=1e-15)


def test_shapes_flatten_and_batch():
    imgs = np.zeros((5, 3, 28, 28), dtype=np.uint8)
    assert latency_encode(imgs).shape == (5, 3, 784, 1)
    assert latency_encode(imgs, flatten=False).shape == (5, 3, 28, 28, 1)
    assert latency_encode(imgs, image_ndim=3).shape == (5, 3 * 28 * 28, 1)
    flat = np.zeros((7, 784), dtype=np.uint8)
    assert latency_encode(flat, image_ndim=1).shape == (7, 784, 1)
    assert latency_encode(flat, flatten=False).shape == (7, 784, 1)
    assert latency_encode(IMG[0], image_ndim=1).shape == (2, 1)


def test_flatten_is_c_order_and_batch_consistent():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(4, 3, 5), dtype=np.uint8)
    t = np.asarray(latency_encode(imgs))
    t_unflat = np.asarray(latency_encode(imgs, flatten=False))
    np.testing.assert_array_equal(t, t_unflat.reshape(4, 15, 1))
    for b in range(4):
        np.testing.assert_array_equal(t[b], np.asarray(latency_encode(imgs[b])))
    # pixel (1, 2) of image 2 is neuron 1 * 5 + 2
    expected = np.float32(0.1) * ((np.float32(255) - imgs[2, 1, 2]) / np.float32(255))
    if imgs[2, 1, 2] == 0:
        expected = np.inf
    np.testing.assert_allclose(t[2, 7, 0], expected, rtol=1e-6)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6)))
def test_property_range_and_order(x):
    t = np.asarray(latency_encode(x, flatten=False, image_ndim=1))[..., 0]
    assert np.array_equal(np.isfinite(t), x > 0)
    fin = t[x > 0]
    assert np.all((fin >= 0) & (fin < 0.1))
    # brighter never later
    xs, ts = x[x > 0].ravel(), fin.ravel()
    order = np.argsort(xs, kind="stable")
    assert np.all(np.diff(ts[order]) <= 0)


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.array([[-1.0, 3.0]]), {}, "negative"),
        (np.array([[256.0, 3.0]]), {}, "above max_value"),
        (np.array([[1.5, 0.5]]), {"max_value": 1.0}, "above max_value"),
        (np.array([[np.nan, 3.0]]), {}, "NaN"),
        (np.array([[np.inf, 3.0]]), {}, "above max_value"),
        (IMG, {"t_window": 0.0}, "t_window"),
        (IMG, {"t_window": -0.1}, "t_window"),
        (IMG, {"max_value": 0.0}, "max_value"),
        (IMG, {"image_ndim": 3}, "fewer than image_ndim"),
        (IMG, {"image_ndim": 0}, "image_ndim"),
        (IMG, {"dtype": jnp.int32}, "floating"),
        (IMG.astype(np.complex64), {}, "real-valued"),
    ],
)
def test_bad_input_raises(images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        latency_encode(images, **kwargs)


def test_jit_matches_eager_and_traced_t_window():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    eager = np.asarray(latency_encode(imgs, t_window=0.05))
    jitted = np.asarray(jax.jit(partial(latency_encode, t_window=0.05))(imgs))
    np.testing.assert_allclose(eager, jitted, rtol=1e-6)  # XLA may fuse the division
    assert np.array_equal(np.isinf(eager), np.isinf(jitted))
    traced = jax.jit(lambda x, tw: latency_encode(x, t_window=tw))(imgs, 0.05)
    np.testing.assert_allclose(np.asarray(traced), eager, rtol=1e-6)
    # d t / d t_window = 1 - pixel / 255 for active pixels, 0 where silent
    g = jax.grad(
        lambda tw: jnp.sum(jnp.where(jnp.isfinite(e := latency_encode(imgs, t_window=tw)), e, 0))
    )(0.05)
    np.testing.assert_allclose(g, np.sum(np.where(imgs > 0, 1 - imgs / 255.0, 0)), rtol=1e-5)


def test_count_active_inputs():
    imgs = np.array([IMG, np.zeros((2, 2), np.uint8), np.full((2, 2), 7, np.uint8)])
    counts = count_active_inputs(latency_encode(imgs))
    assert counts.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(counts), [3, 0, 4])
    multi = jnp.array([[[0.1, 0.2, jnp.inf], [jnp.inf, jnp.inf, jnp.inf]]])
    np.testing.assert_array_equal(np.asarray(count_active_inputs(multi)), [2])
    assert int(jax.jit(count_active_inputs)(multi)[0]) == 2
    with pytest.raises(ValueError, match=r"must have shape \[\.\.\., n, K\]"):
        count_active_inputs(jnp.zeros(3))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"t_window": "0.1"}, TypeError, "t_window must be a real number"),
        ({"max_value": True}, TypeError, "max_value must be a real number"),
        ({"max_value": None}, TypeError, "max_value must be a real number"),
        ({"t_window": 1 + 1j}, TypeError, "t_window must be a real number"),
        ({"dtype": "no-such-dtype"}, TypeError, "dtype must be a floating dtype"),
        # not representable in the output dtype: would give NaN (inf / inf) or 0 * inf
        ({"max_value": 1e30, "dtype": jnp.float16}, ValueError, "max_value must be .*float16"),
        ({"t_window": 1e-45}, ValueError, "t_window must be .*float32"),
    ],
)
def test_bad_scalars_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        latency_encode(
            np.array([[1.0, 0.0]], np.float32), max_value=kwargs.pop("max_value", 255.0), **kwargs
        )
