"""Weight bumping (snnjax.train.bump): which neurons it bumps, that it replaces the
optimizer step, and that it is inert when off or when every label neuron fires."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax.configs import get_config
from snnjax.train import (
    TrainState,
    build_model,
    init_params,
    make_optimizer,
    make_train_step,
    prepare_data,
)
from snnjax.train.bump import label_silent_by_class

INF = np.inf


def test_label_silent_by_class_counts_only_the_label_neuron():
    # 4 samples, 3 classes, K = 2; sample 0 (label 1): neuron 1 silent (neuron 0 silent
    # too, but it is not the label); sample 2 (label 1): neuron 1 silent; sample 3 (label
    # 2): neuron 2 fires.
    times = jnp.array(
        [
            [[INF, INF], [INF, INF], [0.1, INF]],
            [[0.2, INF], [INF, INF], [INF, INF]],
            [[0.1, 0.2], [INF, INF], [0.3, INF]],
            [[INF, INF], [INF, INF], [0.05, INF]],
        ]
    )
    labels = jnp.array([1, 0, 1, 2])
    counts = label_silent_by_class(times, labels)
    np.testing.assert_array_equal(counts, [0.0, 2.0, 0.0])
    assert counts.dtype == jnp.float32


def _config(overrides=()):
    return get_config(
        "yinyang_ttfs", ["sizes=5,12,3", "batch_size=16", "train_subset=16", *overrides]
    )


def _step(cfg, data, params=None):
    model = build_model(cfg)
    if params is None:
        params = init_params(model, data.input_shape, cfg.seed)
    opt = make_optimizer(cfg, 1)
    state = TrainState(params, opt.init(params), jnp.int32(0))
    step = make_train_step(model, cfg, opt)
    new, metrics = step(state, data.train.times[:16], data.train.labels[:16])
    return state, new, metrics


@pytest.fixture(scope="module")
def data():
    return prepare_data(_config(), splits=("train",))


def _params(cfg, data, output_column):
    """Initial parameters with every output column replaced by ``output_column(kernel)``."""
    params = init_params(build_model(cfg), data.input_shape, cfg.seed)
    params["layers_1"]["kernel"] = output_column(params["layers_1"]["kernel"])
    return params


def test_off_by_default_and_inert_when_every_label_neuron_fires(data):
    cfg = _config()
    assert cfg.weight_bump is None
    loud = _params(cfg, data, lambda k: jnp.abs(k) + 2.0)  # every output neuron fires
    _, exact, m_exact = _step(cfg, data, loud)
    assert float(m_exact["weight_bump"]) == 0.0
    assert float(m_exact["label_silent"]) == 0.0  # the premise: every label neuron fires
    _, bumped, m_bump = _step(dataclasses.replace(cfg, weight_bump=0.1), data, loud)
    assert float(m_bump["weight_bump"]) == 0.0
    assert "label_silent_by_class" not in m_bump
    for a, b in zip(jax.tree.leaves(exact), jax.tree.leaves(bumped), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_silent_label_neuron_is_bumped_instead_of_the_optimizer_step(data):
    cfg = dataclasses.replace(_config(), weight_bump=0.25)
    # Output neuron 0 never fires (negative weights), the others always do.
    params = _params(cfg, data, lambda k: (jnp.abs(k) + 2.0).at[:, 0].set(-1.0))
    out_key = "layers_1"
    labels = np.asarray(data.train.labels[:16])
    assert (labels == 0).any()  # some samples need neuron 0
    state, new, metrics = _step(cfg, data, params)
    assert float(metrics["weight_bump"]) == 1.0
    assert float(metrics["label_silent"]) == float((labels == 0).sum())
    old_k = np.asarray(state.params[out_key]["kernel"])
    new_k = np.asarray(new.params[out_key]["kernel"])
    np.testing.assert_allclose(new_k[:, 0], old_k[:, 0] + 0.25, rtol=1e-6)
    np.testing.assert_array_equal(new_k[:, 1:], old_k[:, 1:])  # firing neurons: untouched
    # No optimizer step: the hidden layer and the optimizer state are unchanged.
    np.testing.assert_array_equal(
        new.params["layers_0"]["kernel"], state.params["layers_0"]["kernel"]
    )
    for a, b in zip(jax.tree.leaves(new.opt_state), jax.tree.leaves(state.opt_state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(new.step) == 1


def test_weight_bump_is_validated():
    with pytest.raises(ValueError, match="weight_bump"):
        get_config("yinyang_ttfs", ["weight_bump=0"])


def test_a_missing_output_kernel_is_an_error_not_a_silent_no_op():
    from snnjax.train.bump import with_weight_bump

    def update(state, grads, stats):
        return state, {}

    state = TrainState({"layers_0": {"kernel": jnp.zeros((2, 3))}}, (), jnp.int32(0))
    bumped = with_weight_bump(update, 0.1, "layers_7")
    with pytest.raises(ValueError, match="layers_7/kernel"):
        bumped(state, None, {"label_silent_by_class": jnp.ones(3)})
