"""LIFParams: conversion and validation of every field, and the checkify helpers (issue 13)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import snnjax
from snnjax import LIFParams


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(tau_syn=[0.1, -0.1]), "tau_syn"),
        (dict(tau_syn=(0.1, float("nan"))), "tau_syn"),
        (dict(theta=[0.0, 1.0]), "theta"),
        (dict(theta=(1.0, float("inf"))), "theta"),
        (dict(delta_theta=[1.0, -2.0]), "delta_theta"),
        (dict(tau_syn=np.array([0.1, 0.0])), "tau_syn"),
    ],
)
def test_per_neuron_sequences_are_validated(kw, field):
    with pytest.raises(ValueError, match=rf"LIFParams\.{field} must be finite and > 0"):
        LIFParams(**kw)


def test_sequences_become_arrays():
    p = LIFParams(tau_syn=[0.1, 0.1], theta=(1, 2))
    assert isinstance(p.tau_syn, np.ndarray)
    assert p.tau_syn.shape == (2,)
    np.testing.assert_allclose(p.tau_mem, [0.2, 0.2])  # not the 4-element list 2 * [..]
    assert p.theta.dtype == np.float64
    assert p.delta_theta is p.theta


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(theta=True), "theta"),
        (dict(tau_syn=np.bool_(True)), "tau_syn"),
        (dict(theta=np.array([True, False])), "theta"),
        (dict(theta="1.0"), "theta"),
        (dict(tau_syn=["0.1", "0.1"]), "tau_syn"),
        (dict(delta_theta=1 + 1j), "delta_theta"),
        (dict(theta=None), "theta"),
        (dict(theta=[True, 1.0]), "theta"),
    ],
)
def test_non_numeric_fields_raise_type_error(kw, field):
    with pytest.raises(TypeError, match=rf"LIFParams\.{field} must be"):
        LIFParams(**kw)


@pytest.mark.parametrize("value", [[[0.1, 0.2]], np.ones((2, 2)), [0.1, [0.2]], []])
def test_bad_shapes_name_the_field(value):
    with pytest.raises(ValueError, match=r"LIFParams\.theta must be a scalar or an array of shape"):
        LIFParams(theta=value)


def test_check_n_out_names_the_field():
    p = LIFParams(tau_syn=[0.1, 0.2, 0.3], theta=0.5)
    p.check_n_out(3)
    with pytest.raises(
        ValueError, match=r"LIFParams\.tau_syn has shape \(3,\).*\[n_out\] = \(2,\)"
    ):
        p.check_n_out(2)


def test_tau_mem_checked_for_sequences():
    LIFParams(tau_syn=[0.1, 0.2], tau_mem=[0.2, 0.4])
    with pytest.raises(ValueError, match="tau_mem == 2"):
        LIFParams(tau_syn=[0.1, 0.2], tau_mem=[0.2, 0.5])
    with pytest.raises(ValueError, match="tau_mem == 2"):
        LIFParams(tau_syn=[0.1, 0.2], tau_mem=[0.2, 0.4, 0.6])


def test_tracers_pass_unchecked():
    f = jax.jit(lambda th: LIFParams(theta=th, tau_syn=[0.1, th]).tau_syn)
    np.testing.assert_allclose(f(jnp.float32(0.2)), [0.1, 0.2], rtol=1e-6)
    g = jax.grad(lambda th: LIFParams(theta=th).theta * 3.0)
    assert float(g(1.0)) == 3.0


def _checked(fn, *args):
    return checkify.checkify(jax.jit(fn))(*args)[0].get()


@pytest.mark.parametrize("field", ["tau_syn", "theta", "delta_theta"])
@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_checkify_lif_params_catches_traced_bad_values(field, bad):
    def f(v):
        snnjax.checkify_lif_params(LIFParams(**{field: v}))
        return v

    assert _checked(f, jnp.float32(0.3)) is None
    err = _checked(f, jnp.float32(bad))
    assert err is not None
    assert f"LIFParams.{field} must be finite and > 0" in err


def test_checkify_lif_params_shape_and_type():
    with pytest.raises(ValueError, match=r"LIFParams\.theta has shape"):
        snnjax.checkify_lif_params(LIFParams(theta=[1.0, 2.0]), n_out=3)
    with pytest.raises(TypeError, match=r"params must be snnjax\.LIFParams"):
        snnjax.checkify_lif_params((0.1, 1.0))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_checkify_weights_catches_non_finite(bad):
    def f(w):
        snnjax.checkify_weights(w)
        return w

    w = jnp.ones((3, 2), jnp.float32)
    assert _checked(f, w) is None
    assert "weights contain NaN or inf" in _checked(f, w.at[1, 1].set(bad))
    with pytest.raises(ValueError, match=r"weights must be \[n_in, n_out\]"):
        snnjax.checkify_weights(jnp.ones(3))
    with pytest.raises(TypeError, match="weights must be a float array"):
        snnjax.checkify_weights(jnp.ones((3, 2), jnp.int32))


def test_checkify_layer_inputs_guards_a_jitted_layer():
    params_ok = (jnp.float32(0.1), jnp.float32(0.2))

    def f(times, w, tau, theta):
        p = LIFParams(tau_syn=tau, theta=theta)
        snnjax.checkify_layer_inputs(times, w, p, 0.5)
        return snnjax.lif_layer(times, w, p, max_spikes=2, t_max=0.5).times

    checked = checkify.checkify(jax.jit(f))
    t = jnp.array([[[0.0], [0.01]]], jnp.float32)
    w = jnp.full((2, 3), 2.0, jnp.float32)
    assert checked(t, w, *params_ok)[0].get() is None
    assert "weights contain NaN" in checked(t, w.at[0, 0].set(jnp.nan), *params_ok)[0].get()
    assert "tau_syn must be finite" in checked(t, w, jnp.float32(-0.1), params_ok[1])[0].get()
    assert "input_times contains NaN" in checked(t.at[0, 0, 0].set(jnp.nan), w, *params_ok)[0].get()
