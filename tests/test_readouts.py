"""Tests for the readout registry (snnjax.readouts) and everything that reads it."""

import dataclasses
import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import analysis, readouts, spikes
from snnjax.analysis.latency import truncate_times
from snnjax.configs import ConfigError, ExperimentConfig, get_config
from snnjax.losses import (
    predict_from_counts,
    predict_from_first_spike,
    spike_count_loss,
    ttfs_cross_entropy,
)
from snnjax.readouts import Readout, get_readout, readout_names, register_readout
from snnjax.train import make_loss_fn, make_predict_fn

INF = np.inf


def random_outputs(seed: int, batch: int = 12, n: int = 3, k: int = 4) -> np.ndarray:
    """Sorted output trains ``[B, n, K]``; samples 0 and 1 all silent, some silent neurons."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 0.05, size=(batch, n, k)), axis=-1).astype(np.float32)
    counts = rng.integers(0, k + 1, size=(batch, n))
    counts[:2] = 0
    return np.where(np.arange(k) < counts[..., None], t, INF).astype(np.float32)


def test_the_registered_readouts():
    assert readout_names()[:2] == ("count", "ttfs")
    count, ttfs = get_readout("count"), get_readout("ttfs")
    assert count.label == "multi-spike (count loss)"
    assert count.rule == "argmax spike count"
    assert ttfs.label == "single-spike (TTFS cross-entropy)"
    assert ttfs.rule == "argmin first spike"
    assert count.predict is predict_from_counts
    assert ttfs.predict is predict_from_first_spike
    assert count.loss is spike_count_loss
    assert ttfs.loss is ttfs_cross_entropy
    assert ttfs.first_spike_only
    assert not count.first_spike_only
    assert set(readouts.registered_readouts()) == set(readout_names())


def test_unknown_readout_is_a_clear_error_everywhere():
    listed = r"unknown readout 'nope'; registered readouts: 'count' .*'ttfs'"
    with pytest.raises(ValueError, match=listed):
        get_readout("nope")
    with pytest.raises(ConfigError, match=r"loss must be one of \('count', 'ttfs'"):
        get_config("yinyang_multispike", ["loss=nope"])
    with pytest.raises(ConfigError, match="loss must be one of"):
        ExperimentConfig(loss="nope")
    # a config-like object that bypassed validation: no silent fall-through to a default
    cfg = types.SimpleNamespace(**{**dataclasses.asdict(ExperimentConfig()), "loss": "nope"})
    with pytest.raises(ValueError, match=listed):
        make_loss_fn(cfg)
    with pytest.raises(ValueError, match=listed):
        make_predict_fn(cfg)
    t = random_outputs(0)
    y = np.zeros(t.shape[0], np.int32)
    for call in (
        lambda: analysis.decision_time(t, "nope"),
        lambda: analysis.accuracy_vs_deadline(t, y, [0.01], "nope"),
        lambda: analysis.toy_problem("nope"),
        lambda: analysis.convergence_map("nope", n_runs=1),
    ):
        with pytest.raises(ValueError, match=listed):
            call()


def test_registering_twice_or_a_non_readout_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_readout(get_readout("count"))
    with pytest.raises(TypeError, match="Readout"):
        register_readout({"name": "x"})


@pytest.mark.parametrize("name", readout_names())
def test_every_readout_is_consistent(name):
    """Shapes, dtypes, silent outputs and the decision-time definition, for every readout."""
    r = get_readout(name)
    t = random_outputs(1)
    batch, n_classes, _ = t.shape
    y = np.random.default_rng(2).integers(0, n_classes, size=batch).astype(np.int32)

    pred, silent = r.predict(t)
    assert pred.shape == silent.shape == (batch,)
    assert pred.dtype == jnp.int32
    assert silent.dtype == jnp.bool_
    np.testing.assert_array_equal(np.asarray(silent), np.asarray(spikes.all_silent(t)))
    assert silent[:2].all()
    np.testing.assert_array_equal(np.asarray(pred) == -1, np.asarray(silent))
    assert ((np.asarray(pred) >= 0) & (np.asarray(pred) < n_classes) | np.asarray(silent)).all()

    loss_fn = r.make_loss(ExperimentConfig(loss=name, sizes=(5, 8, n_classes)))
    loss = loss_fn(t, y)
    assert loss.shape == (batch,)
    assert loss.dtype == t.dtype
    grad = jax.grad(lambda x: jnp.sum(jnp.where(jnp.isfinite(loss_fn(x, y)), loss_fn(x, y), 0.0)))(
        jnp.asarray(t)
    )
    assert grad.shape == t.shape
    assert bool(jnp.all(jnp.isfinite(grad)))
    assert bool(jnp.all(jnp.where(jnp.isfinite(t), True, grad == 0.0)))  # empty slots: 0

    d = np.asarray(jax.jit(r.decision_time)(t))
    assert d.shape == (batch,)
    np.testing.assert_array_equal(np.isinf(d), np.asarray(silent))
    # Definition: truncated at the decision time (and later), the prediction is final;
    # just before it, it is not (or nothing was decided yet).
    decided = ~np.asarray(silent)
    for i in np.flatnonzero(decided):
        assert d[i] in t[i]
        np.testing.assert_array_equal(
            np.asarray(r.predict(truncate_times(t[i], d[i]))[0]), np.asarray(pred[i])
        )
        later = t[i][np.isfinite(t[i]) & (t[i] > d[i])]
        for s in later:
            assert int(r.predict(truncate_times(t[i], s))[0]) == int(pred[i])
        earlier = np.asarray(r.predict(truncate_times(t[i], np.nextafter(d[i], -1)))[0])
        assert int(earlier) != int(pred[i])
    # analysis.decision_time reads the same rule
    np.testing.assert_array_equal(np.asarray(analysis.decision_time(t, name)), d)


def test_make_loss_fn_passes_the_config_parameters():
    t = random_outputs(3)[2:]
    y = np.arange(t.shape[0], dtype=np.int32) % 3
    cfg = get_config("yinyang_multispike", ["loss=count", "n_true=7", "n_false=1"])
    np.testing.assert_array_equal(
        np.asarray(make_loss_fn(cfg)(t, y)),
        np.asarray(spike_count_loss(t, y, n_true=7.0, n_false=1.0)),
    )
    cfg = get_config("yinyang_ttfs", ["tau_loss=0.02", "alpha=0.5", "beta=3"])
    np.testing.assert_array_equal(
        np.asarray(make_loss_fn(cfg)(t, y)),
        np.asarray(
            ttfs_cross_entropy(t, y, tau_loss=0.02, alpha=0.5, beta=3.0, tau_syn=cfg.tau_syn)
        ),
    )
    assert get_readout("ttfs").loss_kwargs(cfg) == {
        "tau_loss": 0.02,
        "alpha": 0.5,
        "beta": 3.0,
        "tau_syn": cfg.tau_syn,
    }
    # a missing attribute is left to the loss's own default
    assert get_readout("ttfs").loss_kwargs(types.SimpleNamespace(tau_loss=0.1)) == {"tau_loss": 0.1}


def _count_softmax(times, labels, *, temperature: float = 1.0):
    """A stand-in third readout: softmax cross-entropy over spike counts / temperature."""
    logits = spikes.spike_counts(times).astype(times.dtype) / temperature
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, jnp.asarray(labels)[..., None], axis=-1)[..., 0]


def test_a_new_readout_is_one_registration(monkeypatch):
    """Registering a readout makes it a valid config loss, a training loss and predictor,
    and an analysis readout, with no other change; its parameter comes from the config."""
    demo = Readout(
        name="count_softmax_demo",
        label="multi-spike (count softmax)",
        rule="argmax spike count",
        loss=_count_softmax,
        loss_params=("temperature",),
        predict=predict_from_counts,
        decision_time=readouts.count_decision_time,
    )
    monkeypatch.setitem(readouts._REGISTRY, demo.name, demo)  # removed again after the test
    assert demo.name in readout_names()

    t = random_outputs(4)[2:]
    y = np.zeros(t.shape[0], np.int32)
    cfg = get_config("yinyang_multispike", [f"loss={demo.name}"])
    np.testing.assert_allclose(
        np.asarray(make_loss_fn(cfg)(t, y)), np.asarray(_count_softmax(t, y)), rtol=1e-6
    )
    assert make_predict_fn(cfg) is predict_from_counts
    # a config carrying the parameter (as ExperimentConfig would after adding the field)
    with_t = types.SimpleNamespace(temperature=2.0)
    np.testing.assert_allclose(
        np.asarray(demo.make_loss(with_t)(t, y)),
        np.asarray(_count_softmax(t, y, temperature=2.0)),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        np.asarray(analysis.decision_time(t, demo.name)),
        np.asarray(analysis.decision_time(t, "count")),
    )
    assert analysis.toy_problem(demo.name).max_spikes == 10


def test_count_ce_readout_reads_its_temperature_from_the_config():
    """``loss=count_ce`` trains with snnjax.losses.count_cross_entropy at the config's
    ``count_temperature`` and predicts like the count readout."""
    from snnjax.losses import count_cross_entropy

    r = get_readout("count_ce")
    assert r.loss is count_cross_entropy
    assert r.predict is predict_from_counts
    assert r.decision_time is readouts.count_decision_time
    assert not r.first_spike_only
    cfg = get_config("yinyang_multispike", ["loss=count_ce", "count_temperature=2.5"])
    assert r.loss_kwargs(cfg) == {"temperature": 2.5}
    t = random_outputs(4)
    y = np.arange(t.shape[0]) % t.shape[1]
    np.testing.assert_allclose(
        np.asarray(make_loss_fn(cfg)(t, y)),
        np.asarray(count_cross_entropy(t, y, temperature=2.5)),
        rtol=1e-6,
    )
    with pytest.raises(ConfigError, match="count_temperature"):
        get_config("yinyang_multispike", ["loss=count_ce", "count_temperature=0"])


def test_builtin_names_match_the_builtin_registrations():
    # snnjax.readouts lists the built-in names without importing snnjax.readouts.builtin
    # (and JAX): they must be exactly what that module registers (a fresh interpreter
    # has nothing else registered).
    import subprocess
    import sys

    code = (
        "import json, snnjax.readouts as r; r._load_builtins(); "
        "print(json.dumps(list(r._REGISTRY)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert tuple(json.loads(out.stdout)) == readouts._BUILTIN_NAMES
    assert readout_names()[: len(readouts._BUILTIN_NAMES)] == readouts._BUILTIN_NAMES


def test_decision_times_ignore_nan():
    from snnjax.readouts import count_decision_time, first_spike_decision_time

    t = jnp.array([[[jnp.nan], [0.02]], [[jnp.nan], [jnp.nan]]], jnp.float32)
    np.testing.assert_array_equal(
        np.asarray(first_spike_decision_time(t)), np.float32([0.02, np.inf])
    )
    np.testing.assert_array_equal(np.asarray(count_decision_time(t)), np.float32([0.02, np.inf]))
