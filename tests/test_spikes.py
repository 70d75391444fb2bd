"""Tests for snnjax.spikes: the spike-train conventions every other module uses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import snnjax
from snnjax import losses, spikes
from snnjax.nn import (
    Flatten,
    LIFConv,
    LIFDense,
    SpikeUnionPool,
    SpikingNetwork,
    is_spiking_layer,
    make_conv_network,
    make_dense_network,
    spiking_layer_indices,
    spiking_layer_names,
)

INF = np.inf

# [B=2, n=3, K=3]: sample 0 has spikes, sample 1 is all silent.
T = np.array(
    [
        [[0.01, 0.02, INF], [INF, INF, INF], [0.0, 0.03, 0.04]],
        [[INF, INF, INF], [INF, INF, INF], [INF, INF, INF]],
    ],
    np.float32,
)


def test_counts_first_spikes_and_spikes_per_sample():
    c = spikes.spike_counts(T)
    assert c.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(c), [[2, 0, 3], [0, 0, 0]])
    np.testing.assert_array_equal(np.asarray(spikes.first_spike_times(T)), T[..., 0])
    per = spikes.spikes_per_sample(T)
    assert per.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(per), [5, 0])
    # any neuron shape: [B, H, W, C, K]
    img = np.full((2, 3, 3, 2, 4), INF, np.float32)
    img[0, 1, 2, 1, :2] = [0.1, 0.2]
    np.testing.assert_array_equal(np.asarray(spikes.spikes_per_sample(img)), [2, 0])
    # losses re-exports the very same functions
    assert losses.spike_counts is spikes.spike_counts
    assert losses.first_spike_times is spikes.first_spike_times


def test_first_spike_gradient_flows_into_slot_zero_only():
    g = jax.grad(
        lambda t: jnp.sum(
            jnp.where(jnp.isfinite(spikes.first_spike_times(t)), spikes.first_spike_times(t), 0.0)
        )
    )(jnp.asarray(T))
    expected = np.zeros_like(T)
    expected[0, 0, 0] = expected[0, 2, 0] = 1.0
    np.testing.assert_array_equal(np.asarray(g), expected)


def test_silence():
    np.testing.assert_array_equal(np.asarray(spikes.all_silent(T)), [False, True])
    labels = np.array([1, 2])
    np.testing.assert_array_equal(np.asarray(spikes.label_silent(T, labels)), [True, True])
    np.testing.assert_array_equal(
        np.asarray(spikes.label_silent(T, np.array([0, 0]))), [False, True]
    )
    # jit-friendly
    np.testing.assert_array_equal(np.asarray(jax.jit(spikes.all_silent)(T)), [False, True])


def test_correct_rule():
    pred = np.array([0, 1, -1, 2, -1])
    y = np.array([0, 0, 0, 2, -1])
    expected = [True, False, False, True, False]  # -1 is never correct, even vs label -1
    np.testing.assert_array_equal(spikes.correct(pred, y), expected)
    np.testing.assert_array_equal(
        np.asarray(spikes.correct(jnp.asarray(pred), jnp.asarray(y))), expected
    )
    assert float(losses.accuracy(jnp.asarray(pred[:4]), jnp.asarray(y[:4]))) == 0.5


@pytest.mark.parametrize(
    ("times", "match"),
    [
        (np.array([[0.1, np.nan]]), "NaN"),
        (np.array([[0.1, -0.2]]), "negative"),
        (np.array([[0.2, 0.1]]), "sorted"),
        (np.array([[INF, 0.1]]), "sorted"),  # padding must come last
    ],
)
def test_check_spike_times_rejects_malformed_trains(times, match):
    with pytest.raises(ValueError, match=match):
        spikes.check_spike_times(times)
    with pytest.raises(ValueError, match=f"my_times.*{match}|{match}"):
        spikes.validate_spike_trains(times, "my_times")
    # the traced version finds the same problem
    err, _ = checkify.checkify(jax.jit(lambda t: spikes.checkify_spike_times(t)))(
        jnp.asarray(times)
    )
    assert err.get() is not None


def test_valid_trains_pass_and_tracers_are_not_checked():
    spikes.check_spike_times(T)
    assert spikes.validate_spike_trains(T).shape == T.shape
    bad = jnp.asarray([[0.2, 0.1]])
    jax.jit(lambda t: spikes.check_spike_times(t) or t)(bad)  # no error under jit
    err, _ = checkify.checkify(jax.jit(lambda t: spikes.checkify_spike_times(t)))(T)
    assert err.get() is None


def test_shape_and_dtype_validation():
    with pytest.raises(ValueError, match=r"shape \[\.\.\., n, K\]"):
        spikes.as_spike_trains(np.zeros(3))
    with pytest.raises(ValueError, match="floating"):
        spikes.validate_spike_trains(np.zeros((2, 3), np.int32))
    with pytest.raises(ValueError, match="one neuron and one slot"):
        spikes.validate_spike_trains(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        spikes.spike_counts(np.zeros(3))


def test_is_concrete():
    assert spikes.is_concrete(np.zeros(2))
    assert spikes.is_concrete(jnp.zeros(2))
    seen = []
    jax.jit(lambda x: seen.append(spikes.is_concrete(x)) or x)(jnp.zeros(2))
    assert seen == [False]


# ------------------------------------------------------------------ spiking layers


def test_spiking_layers_and_their_names():
    dense = make_dense_network(sizes=(5, 4, 4, 3), thetas=(1.0, 1.0, 1.0), max_spikes=(2, 2, 2))
    assert spiking_layer_indices(dense) == (0, 1, 2)
    assert spiking_layer_names(dense) == ("hidden1", "hidden2", "output")
    conv = make_conv_network(
        input_shape=(12, 12, 1),
        conv_features=(2, 3),
        kernel_size=3,
        pool_window=2,
        dense_sizes=(4, 3),
        thetas=(1.0,) * 4,
        max_spikes=(1, 2, 2, 2),
    )
    kinds = [type(layer) for layer in conv.layers]
    assert LIFConv in kinds
    assert SpikeUnionPool in kinds
    assert Flatten in kinds
    idx = spiking_layer_indices(conv)
    assert all(is_spiking_layer(conv.layers[i]) for i in idx)
    assert not any(is_spiking_layer(layer) for i, layer in enumerate(conv.layers) if i not in idx)
    assert spiking_layer_names(conv) == ("conv1", "conv2", "hidden1", "output")
    single = SpikingNetwork([LIFDense(2, max_spikes=1, theta=1.0)])
    assert spiking_layer_names(single) == ("output",)
    # the training and analysis entry points use the same scheme
    assert snnjax.train.spiking_layer_names(conv) == list(spiking_layer_names(conv))
    assert snnjax.analysis.layer_names(conv) == spiking_layer_names(conv)
    assert snnjax.analysis.spiking_layer_indices(conv) == idx
