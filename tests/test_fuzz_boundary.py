"""Property-based fuzz test of the public boundary (issue 13).

For generated malformed (and well-formed) inputs, ``lif_layer``, ``LIFParams``, the
encodings, the losses and predictions and the ``snnjax.nn`` modules either raise
``ValueError`` / ``TypeError`` whose message names the offending argument, or return their
documented result: the right shape and dtype, and never NaN where a number is promised.
Never any other exception (``ZeroDivisionError``, a JAX broadcasting or tracer error, ...).

Cases that lie in the event core (``snnjax/lif/layer.py`` and the backends) and are not
fixed there yet are kept out of the random search (:func:`_known_core_case`) and pinned by
``xfail(strict=True)`` tests at the end, so that the fix shows up as an XPASS.

Kept fast: small shapes, ``max_examples`` of 25-60 per property, no deadline.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import snnjax
from snnjax.encoding import count_active_inputs, latency_encode
from snnjax.losses import (
    count_cross_entropy,
    predict_from_counts,
    predict_from_first_spike,
    spike_count_loss,
    ttfs_cross_entropy,
)

FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ------------------------------------------------------------------- strategies

SPECIAL = [0.0, -0.0, -1.0, 1e-45, 1e-40, 1e30, np.inf, -np.inf, np.nan]

weird_scalars = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from(["1.0", "abc", None, 1 + 2j, b"1"]),
)
good_positive = st.floats(1e-3, 10.0)


def _arrays(dtypes, max_dims=4, max_side=3, elements=None):
    """Small NumPy arrays of random shape (zero-size dims included) and dtype."""
    if elements is None:
        elements = st.one_of(st.sampled_from(SPECIAL), st.floats(0, 0.125))

    @st.composite
    def build(draw):
        shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=0, max_size=max_dims)))
        dtype = np.dtype(draw(st.sampled_from(dtypes)))
        n = math.prod(shape)
        values = draw(st.lists(elements, min_size=n, max_size=n))
        with np.errstate(invalid="ignore", over="ignore"):
            arr = np.asarray(values, np.float64).reshape(shape)
            if dtype.kind in "iub":
                arr = np.nan_to_num(arr, nan=0, posinf=9, neginf=-9)
                arr = np.clip(arr, -9, 9)
            arr = arr.astype(dtype)
        if draw(st.booleans()) and arr.ndim:  # sorted trains half of the time
            arr = np.sort(arr, axis=-1)
        return arr

    return build()


param_values = st.one_of(
    weird_scalars,
    good_positive,
    st.lists(st.one_of(good_positive, weird_scalars), min_size=0, max_size=3),
    st.lists(st.lists(good_positive, min_size=1, max_size=2), min_size=1, max_size=2),
    _arrays(["float32", "float64", "int32", "bool", "complex64"], max_dims=2),
).map(lambda v: tuple(v) if isinstance(v, list) and len(v) == 2 else v)


def _mostly(good, bad):
    """``good`` three times in four, else ``bad``: most examples get past the validation
    (and exercise the computation), the others break one argument at a time."""
    return st.one_of(good, good, good, bad)


@st.composite
def _trains(draw, lead, n, k, values=None):
    """Sorted float32 spike trains ``[*lead, n, k]`` (``+inf`` = empty)."""
    if values is None:
        values = st.one_of(st.floats(0.0, 0.0625, width=32), st.just(np.inf))
    size = math.prod(lead) * n * k
    flat = draw(st.lists(values, min_size=size, max_size=size))
    return np.sort(np.asarray(flat, np.float32).reshape((*lead, n, k)), axis=-1)


def _names_one_of(exc: Exception, names) -> bool:
    text = str(exc)
    return any(name in text for name in names)


_REJECTED = object()


def _call(names, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or :data:`_REJECTED` when it raised ``TypeError`` /
    ``ValueError`` naming one of ``names`` (any other exception propagates: a failure)."""
    try:
        result = fn(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        error = exc
    else:
        event("accepted")
        return result
    event(f"rejected ({type(error).__name__})")
    assert _names_one_of(error, names), f"the error names no argument: {error!r}"
    return _REJECTED


def _sorted(t: np.ndarray) -> bool:
    """Ascending along the last axis (``inf >= inf`` holds, unlike ``inf - inf >= 0``)."""
    return t.ndim == 0 or bool(np.all(t[..., 1:] >= t[..., :-1]))


def _no_nan(x) -> bool:
    return not np.isnan(np.asarray(x, np.float64)).any()


# ------------------------------------------------------------------- LIFParams


@FAST
@given(
    tau_syn=_mostly(good_positive, param_values),
    theta=_mostly(st.lists(good_positive, min_size=1, max_size=3), param_values),
    delta_theta=st.one_of(st.none(), param_values),
)
def test_lif_params_reject_or_hold_valid_values(tau_syn, theta, delta_theta):
    fields = ("LIFParams.tau_syn", "LIFParams.theta", "LIFParams.delta_theta")
    p = _call(fields, snnjax.LIFParams, tau_syn=tau_syn, theta=theta, delta_theta=delta_theta)
    if p is _REJECTED:
        return
    for value in (p.tau_syn, p.theta, p.delta_theta, p.tau_mem):
        arr = np.asarray(value)
        assert arr.ndim <= 1
        assert arr.dtype.kind in "iuf"
        assert np.isfinite(arr).all()
        assert (arr > 0).all()
    assert np.shape(p.tau_mem) == np.shape(p.tau_syn)


# ------------------------------------------------------------------- lif_layer

LAYER_ARGS = (
    "input_times",
    "weights",
    "params",
    "LIFParams",
    "max_spikes",
    "t_max",
    "max_input_events",
    "backend",
)


def _known_core_case(x: np.ndarray, w: np.ndarray, params, k) -> bool:
    """Inputs on which the event core (not owned here) is known to fail; see the
    ``xfail(strict=True)`` tests below and the issue-13 report."""
    if x.ndim >= 2 and w.ndim == 2 and x.shape[-2] == w.shape[0]:
        if 0 in x.shape:
            return True  # zero-size batch, n_in or K_in: ZeroDivisionError inside JAX
        n_out = w.shape[1]
        for v in (params.tau_syn, params.theta, params.delta_theta):
            if np.shape(v) not in ((), (n_out,)):
                return True  # per-neuron params of the wrong length: broadcasting error
        if np.dtype(x.dtype) == np.float16 or np.dtype(w.dtype) == np.float16:
            return True  # float16: one backend computes, the other rejects (issue 13)
    return False


@st.composite
def _layer_case(draw):
    """A well-formed layer call, then (sometimes) one malformed argument."""
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    n_in, k_in, n_out = (draw(st.integers(1, 3)) for _ in range(3))
    bad_arrays = _arrays(["float32", "float16", "int32", "bool"], max_dims=4)
    x = draw(_mostly(_trains(lead, n_in, k_in), bad_arrays))
    good_w = st.lists(st.floats(-3.0, 30.0), min_size=n_in * n_out, max_size=n_in * n_out).map(
        lambda v: np.asarray(v, np.float32).reshape(n_in, n_out)
    )
    w_elements = st.one_of(st.floats(-3, 3, width=32), st.sampled_from(SPECIAL))
    w = draw(_mostly(good_w, _arrays(["float32", "int32"], max_dims=3, elements=w_elements)))
    good_theta = st.one_of(
        good_positive, st.lists(good_positive, min_size=n_out, max_size=n_out).map(tuple)
    )
    theta = draw(good_theta)
    k = draw(_mostly(st.integers(1, 3), st.sampled_from([0, -1, 2.0, True, "2", None])))
    t_max = draw(_mostly(st.floats(0.01, 0.2), st.sampled_from([0.0, -1.0, np.nan, np.inf, "1"])))
    events = draw(_mostly(st.none(), st.sampled_from([0, -1, 1, 3, 2.5, "3"])))
    return x, w, theta, k, t_max, events


@FAST
@given(case=_layer_case())
def test_lif_layer_rejects_or_returns_documented_output(case):
    x, w, theta, k, t_max, max_input_events = case
    params = snnjax.LIFParams(tau_syn=0.01, theta=theta)
    assume(not _known_core_case(x, w, params, k))
    out = _call(
        LAYER_ARGS,
        snnjax.lif_layer,
        x,
        w,
        params,
        max_spikes=k,
        t_max=t_max,
        max_input_events=max_input_events,
    )
    if out is _REJECTED:
        return
    n_out = w.shape[1]
    batch = x.shape[:-2]
    assert out.times.shape == (*batch, n_out, k)
    assert out.n_dropped.shape == (*batch, n_out)
    assert out.n_input_overflow.shape == batch
    t = np.asarray(out.times, np.float64)
    assert _no_nan(t)
    assert (t >= 0).all()
    assert _sorted(t)
    assert (np.asarray(out.n_dropped) >= 0).all()
    assert (np.asarray(out.n_input_overflow) >= 0).all()


# ------------------------------------------------------------------- encodings

ENCODE_ARGS = ("images", "t_window", "max_value", "image_ndim", "dtype", "flatten")


good_images = st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3)).flatmap(
    lambda shape: st.lists(
        st.integers(0, 255), min_size=math.prod(shape), max_size=math.prod(shape)
    ).map(lambda v: np.asarray(v, np.uint8).reshape(shape))
)


@FAST
@given(
    images=_mostly(
        good_images,
        _arrays(
            ["uint8", "int32", "float32", "bool", "complex64"],
            max_dims=4,
            elements=st.sampled_from([0.0, 1.0, 255.0, 300.0, -1.0, np.nan, np.inf]),
        ),
    ),
    t_window=_mostly(good_positive, weird_scalars),
    max_value=_mostly(st.just(255.0), weird_scalars),
    image_ndim=_mostly(st.integers(1, 2), st.sampled_from([-1, 0, 4, True, 2.0, "2"])),
    flatten=st.booleans(),
    dtype=_mostly(
        st.sampled_from([jnp.float32, "float32"]), st.sampled_from([jnp.float16, jnp.int32, "x"])
    ),
)
def test_latency_encode_rejects_or_encodes(images, t_window, max_value, image_ndim, flatten, dtype):
    t = _call(
        ENCODE_ARGS,
        latency_encode,
        images,
        t_window=t_window,
        max_value=max_value,
        image_ndim=image_ndim,
        flatten=flatten,
        dtype=dtype,
    )
    if t is _REJECTED:
        return
    assert jnp.issubdtype(t.dtype, jnp.floating)
    assert t.shape[-1] == 1
    if flatten:
        lead = images.shape[: images.ndim - image_ndim]
        assert t.shape == (*lead, math.prod(images.shape[images.ndim - image_ndim :]), 1)
    else:
        assert t.shape == (*images.shape, 1)
    v = np.asarray(t, np.float64)
    assert _no_nan(v)
    finite = v[np.isfinite(v)]
    assert (finite >= 0).all()
    assert (finite <= float(t_window) * (1 + 1e-3)).all()
    assert (v[~np.isfinite(v)] == np.inf).all()
    assert int(np.sum(np.isfinite(v))) == int(np.sum(np.asarray(images) > 0))
    counts = count_active_inputs(t) if t.ndim >= 2 else None
    if counts is not None:
        assert counts.dtype == jnp.int32


# ------------------------------------------------------------------- losses

LOSS_ARGS = (
    "times",
    "labels",
    "tau_loss",
    "alpha",
    "beta",
    "tau_syn",
    "n_true",
    "n_false",
    "temperature",
)

bad_loss_times = _arrays(
    ["float32", "int32", "float16"],
    max_dims=3,
    elements=st.one_of(st.sampled_from([0.0, 0.01, 1e5, np.inf, np.nan, -1.0]), st.floats(0, 1)),
)


@st.composite
def _loss_case(draw):
    """Well-formed output trains and labels, then (sometimes) malformed ones."""
    b, n, k = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    values = st.one_of(
        st.floats(0.0, 0.0625, width=32), st.just(np.inf), st.sampled_from([1e5, 1e5 + 0.0078125])
    )
    times = draw(_mostly(_trains((b,), n, k, values), bad_loss_times))
    good_labels = st.lists(st.integers(0, n - 1), min_size=b, max_size=b).map(
        lambda v: np.asarray(v, np.int32)
    )
    bad_labels = _arrays(
        ["int32", "float32", "bool"], max_dims=1, elements=st.sampled_from([0.0, 2.0, -1.0, 5.0])
    )
    return times, draw(_mostly(good_labels, bad_labels))


loss_param = _mostly(st.one_of(good_positive, st.sampled_from([1e-30, 1e-6, 1e4])), weird_scalars)


@FAST
@given(
    case=_loss_case(),
    which=st.sampled_from(["count", "count_ce", "ttfs"]),
    p1=loss_param,
    p2=loss_param,
    alpha=st.one_of(st.just(0.0), loss_param),
)
def test_losses_reject_or_return_numbers(case, which, p1, p2, alpha):
    times, labels = case
    if which == "count" and isinstance(p1, float) and isinstance(p2, float):
        p1, p2 = max(p1, p2) + 1.0, min(p1, p2)  # n_true > n_false, as configs require
    if which == "count":
        fn, kw = spike_count_loss, dict(n_true=p1, n_false=p2)
    elif which == "count_ce":
        fn, kw = count_cross_entropy, dict(temperature=p1)
    else:
        fn, kw = ttfs_cross_entropy, dict(tau_loss=p1, beta=p2, alpha=alpha, tau_syn=0.01)
    loss = _call(LOSS_ARGS, fn, times, labels, **kw)
    if loss is _REJECTED:
        return
    assert loss.shape == labels.shape
    assert loss.dtype == times.dtype
    v = np.asarray(loss, np.float64)
    assert _no_nan(v), (times, labels, kw, v)
    moderate = all(not isinstance(p, float) or 1e-6 <= abs(p) <= 1e4 for p in (p1, p2, alpha))
    if which != "ttfs" and moderate:  # +inf: TTFS label silent, or an overflow
        assert np.isfinite(v).all()
    assert (v >= -1e-6 * (1 + np.abs(v))).all() if which != "count" else True


@FAST
@given(
    times=_mostly(
        _loss_case().map(lambda case: case[0]),
        _arrays(["float32"], max_dims=3, elements=st.sampled_from([0.0, 0.01, np.inf, np.nan])),
    )
)
def test_predictions_never_pick_nan(times):
    for predict in (predict_from_counts, predict_from_first_spike):
        result = _call(("times",), predict, times)
        if result is _REJECTED:
            return
        pred, silent = result
        n = times.shape[-2]
        p = np.asarray(pred)
        assert p.shape == times.shape[:-2]
        assert ((p >= -1) & (p < max(n, 1))).all()
        assert np.array_equal(p == -1, np.asarray(silent))
        if times.size and p.size:
            # the chosen neuron has a real (finite) spike; NaN is never a spike
            has = np.isfinite(np.asarray(times, np.float64)).any(axis=-1)
            chosen = np.take_along_axis(has, np.maximum(p, 0)[..., None], axis=-1)[..., 0]
            assert chosen[p >= 0].all()
            assert np.array_equal(p == -1, ~has.any(axis=-1))  # silent: no such spike


# ------------------------------------------------------------------- snnjax.nn


NN_ARGS = (*LAYER_ARGS, "features", "kernel_size", "window", "LIFDense", "LIFConv", "theta")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    features=st.integers(0, 3),  # non-int or negative: see the xfail test below
    max_spikes=_mostly(st.integers(1, 2), st.sampled_from([0, -1, 1.5, None])),
    theta=_mostly(
        st.one_of(good_positive, st.lists(good_positive, min_size=1, max_size=3)), weird_scalars
    ),
    shape=_mostly(
        st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 2)),
        st.lists(st.integers(0, 3), min_size=0, max_size=4).map(tuple),
    ),
)
def test_lif_dense_rejects_or_returns_documented_output(features, max_spikes, theta, shape):
    import jax

    from snnjax.nn import LIFDense

    x = np.full(shape, 0.01, np.float32)
    try:
        params = snnjax.LIFParams(theta=theta)
    except (TypeError, ValueError):
        params = None
    if params is not None and len(shape) >= 2 and isinstance(features, int) and features >= 0:
        w = np.zeros((shape[-2], features), np.float32)
        assume(not _known_core_case(x, w, params, max_spikes))
    layer = LIFDense(features=features, max_spikes=max_spikes, theta=theta, t_max=0.1)
    out = _call(NN_ARGS, lambda: layer.apply(layer.init(jax.random.key(0), x), x))
    if out is _REJECTED:
        return
    assert out.times.shape == (*shape[:-2], features, max_spikes)
    assert _no_nan(out.times)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    shape=_mostly(
        st.tuples(st.integers(1, 2), st.sampled_from([2, 4]), st.sampled_from([2, 4])).map(
            lambda s: (*s, 1, 2)
        ),
        st.lists(st.integers(0, 4), min_size=0, max_size=6).map(tuple),
    ),
    window=_mostly(  # 2.5: see the xfail test below
        st.sampled_from([1, 2, (2, 1)]), st.sampled_from([-1, 0, 3, (0, 2), "2", (1, 2, 3)])
    ),
    max_spikes=st.one_of(st.none(), st.integers(-1, 5), st.sampled_from([1.5, True])),
)
def test_spike_union_pool_rejects_or_pools(shape, window, max_spikes):
    from snnjax.nn import spike_union_pool

    x = np.random.default_rng(0).uniform(0, 1, size=shape).astype(np.float32)
    x = np.sort(x, axis=-1) if x.ndim else x
    y = _call(("times", "window", "max_spikes"), spike_union_pool, x, window, max_spikes)
    if y is _REJECTED:
        return
    assert y.ndim == x.ndim
    assert _no_nan(y)
    assert _sorted(np.asarray(y, np.float64))


# ----------------------------------------------- known event-core cases (other owner)

_W = np.ones((2, 3), np.float32)
_X = np.zeros((1, 2, 1), np.float32)


def _layer(x=_X, w=_W, params=None, **kw):
    kw = {"max_spikes": 2, "t_max": 0.1, **kw}
    return snnjax.lif_layer(x, w, params or snnjax.LIFParams(0.01, 0.5), **kw)


@pytest.mark.xfail(
    strict=True,
    reason="event core (snnjax/lif/layer.py): per-neuron params of the wrong length give a "
    "JAX broadcasting error that does not name the parameter; layer.py should call "
    "params.check_n_out(weights.shape[1]) (LIFParams.check_n_out, added for this)",
)
def test_core_wrong_length_per_neuron_params_name_the_parameter():
    with pytest.raises(ValueError, match=r"LIFParams\.theta"):
        _layer(params=snnjax.LIFParams(tau_syn=0.01, theta=[0.5, 0.5]))


@pytest.mark.xfail(
    strict=True,
    reason="event core: zero-size dims (n_in = 0, K_in = 0, batch 0) raise "
    "ZeroDivisionError inside JAX instead of an empty result or a clear error",
)
@pytest.mark.parametrize(
    ("x_shape", "w_shape"),
    [((1, 0, 1), (0, 3)), ((1, 2, 0), (2, 3)), ((0, 2, 1), (2, 3))],
)
def test_core_zero_size_dims(x_shape, w_shape):
    out = _call(LAYER_ARGS, _layer, np.zeros(x_shape, np.float32), np.ones(w_shape, np.float32))
    if out is _REJECTED:
        return
    assert out.times.shape == (*x_shape[:-2], w_shape[1], 2)


@pytest.mark.xfail(
    strict=True,
    reason="snnjax/nn/layers.py (not owned here): LIFDense(features=2.0 / '2' / -1) fails "
    "inside Flax/JAX (TypeError 'Shapes must be 1D sequences of concrete values of integer "
    "type', MLIRError 'invalid tensor dimension size') instead of naming 'features'",
)
@pytest.mark.parametrize("features", [2.0, "2", -1])
def test_nn_lif_dense_bad_features_named(features):
    import jax

    from snnjax.nn import LIFDense

    x = np.full((2, 3, 1), 0.01, np.float32)
    layer = LIFDense(features=features, max_spikes=1, t_max=0.1)
    with pytest.raises((TypeError, ValueError), match="features"):
        layer.apply(layer.init(jax.random.key(0), x), x)


@pytest.mark.xfail(
    strict=True,
    reason="snnjax/nn/pooling.py (not owned here): spike_union_pool(times, window=2.5) raises "
    "TypeError(\"'float' object is not iterable\"), which does not name 'window'",
)
def test_nn_pool_float_window_named():
    from snnjax.nn import spike_union_pool

    with pytest.raises((TypeError, ValueError), match="window"):
        spike_union_pool(np.zeros((1, 2, 2, 1, 1), np.float32), 2.5)
