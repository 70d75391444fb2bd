"""Input-event bounds of the later layers (snnjax.train.bounds, config spike_input_events):
calibration, the bound respected, overflow detected and answered, results unchanged."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import pytest
from helpers import BACKENDS, assert_backend_equal

from snnjax.configs import ConfigError, config_from_dict, config_to_dict, get_config
from snnjax.train import build_model, evaluate_run, init_params, prepare_data, train
from snnjax.train.bounds import (
    bound_for,
    grown_bounds,
    input_slots,
    merge_bounds,
    next_power_of_two,
    recorded_bounds,
    resolve_bounds,
)
from snnjax.train.summary import TIMING_FIELDS

# Yin-Yang (generated: no files) 5-60-3 with K = 10 / 30: the output layer has 600 slots.
SMALL = [
    "sizes=5,60,3",
    "train_subset=100",
    "n_validation=50",
    "test_subset=50",
    "batch_size=25",
    "eval_batch_size=50",
    "epochs=1",
]


def _config(*extra: str):
    return get_config("yinyang_multispike", SMALL + list(extra))


def _rows(run_dir) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]


# ------------------------------------------------------------------------ the config


def test_config_field_forms_and_round_trip():
    cfg = get_config("mnist_multispike")
    assert cfg.spike_input_events == ("auto",)
    assert cfg.spike_input_bounds() == ("auto",)
    assert get_config("emnist").spike_input_bounds() == ("auto",)
    assert get_config("fashion_mnist").spike_input_bounds() == (None, None)  # no gain there
    # one value for all later layers, or one each; all None = ()
    assert get_config("fashion_mnist", ["spike_input_events=512"]).spike_input_bounds() == (
        512,
        512,
    )
    per_layer = get_config("fashion_mnist", ["spike_input_events=auto,none"])
    assert per_layer.spike_input_bounds() == ("auto", None)
    assert get_config("mnist_multispike", ["spike_input_events=none"]).spike_input_events == ()
    assert get_config("mnist_conv").spike_input_bounds() == (None, None, None)
    # a deeper network keeps the one value for all layers
    deeper = get_config(
        "mnist_multispike", ["sizes=784,20,20,10", "thetas=1,1,1", "max_spikes=2,2,2"]
    )
    assert deeper.spike_input_bounds() == ("auto", "auto")
    for c in (cfg, per_layer):
        assert config_from_dict(config_to_dict(c)) == c
    # config.json files written before the field existed load with every slot
    old = config_to_dict(cfg)
    del old["spike_input_events"]
    assert config_from_dict(old).spike_input_events == ()


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("spike_input_events=0", r"spike_input_events = \(0,\) is invalid"),
        ("spike_input_events=auto,auto", r"one for each \(1\)"),
        ("spike_input_events=many", "expected an integer"),
    ],
)
def test_config_rejects_bad_bounds(override, match):
    with pytest.raises(ConfigError, match=match):
        get_config("mnist_multispike", [override])


def test_config_rejects_bounds_on_conv_and_bad_python_values():
    with pytest.raises(ConfigError, match="conv networks take no bound"):
        get_config("mnist_conv", ["spike_input_events=auto"])
    cfg = get_config("mnist_multispike")
    for bad in (True, ("auto", 3), (2.5,), ("Auto",)):
        with pytest.raises(ConfigError, match="spike_input_events"):
            dataclasses.replace(cfg, spike_input_events=bad)


# ------------------------------------------------------------------- the arithmetic


def test_bound_arithmetic():
    assert [next_power_of_two(n) for n in (0, 1, 2, 3, 1024, 1025)] == [1, 1, 2, 4, 1024, 2048]
    assert bound_for(1188, 24000) == 2048  # 1188 * 1.5 = 1782 -> 2048
    assert bound_for(0, 24000) == 1
    assert bound_for(20000, 24000) is None  # as large as the slots: no bound
    assert grown_bounds((100, 64), [0.0, 0.0], (784, 600)) is None
    # needed 64 + 3 events, at least doubled -> 128 * 1.5 -> 256
    assert grown_bounds((100, 64), [0.0, 3.0], (784, 600)) == (100, 256)
    assert grown_bounds((100, 512), [0.0, 1.0], (784, 600)) == (100, None)
    assert merge_bounds((100, 64, None), (50, 128, 8)) == (100, 128, None)
    assert input_slots(get_config("mnist_multispike")) == (784, 24000)
    assert input_slots(get_config("fashion_mnist")) == (784, 2000, 2000)
    assert recorded_bounds({"input_event_bounds": [300, 2048]}, 2) == (300, 2048)
    assert recorded_bounds({"max_input_events": 300}, 2) == (300, None)  # older run.json
    assert recorded_bounds({}, 2) is None


def test_calibration_is_deterministic_and_bounds_the_emitted_spikes():
    cfg = _config("spike_input_events=auto")
    data = prepare_data(cfg)
    bounds, calibration = resolve_bounds(cfg, data, None)
    again, calibration2 = resolve_bounds(cfg, data, None)
    assert bounds == again
    assert calibration == calibration2
    most = calibration["most_events"][1]
    assert most > 0
    assert calibration["batches"] == 4
    assert bounds[0] is None
    assert bounds[1] == bound_for(most, 600)
    assert bounds[1] >= 1.5 * most
    assert bounds[1] & (bounds[1] - 1) == 0
    # explicit values pass through; nothing to calibrate
    assert resolve_bounds(_config("spike_input_events=7"), data, 5) == ((5, 7), {})
    assert resolve_bounds(_config(), data, None) == ((None, None), {})


# --------------------------------------------------- the bound respected, results equal


@pytest.mark.parametrize("backend", BACKENDS)
def test_bounded_network_equals_unbounded_and_counts_overflow(backend):
    cfg = _config()
    data = prepare_data(cfg)
    x = jnp.asarray(data.train.times[:25])
    weight = jnp.asarray(data.train.labels[:25], jnp.float32) + 1.0
    free = build_model(cfg, (None, None), backend)
    params = init_params(free, data.input_shape, cfg.seed)

    def run(bounds):
        model = build_model(cfg, bounds, backend)

        def loss(p):
            out = model.apply({"params": p}, x)
            kept = jnp.where(jnp.isfinite(out.times), out.times, 0.0)
            return jnp.sum(kept * weight[:, None, None]), out

        (_, out), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
        return out, grads

    ref, ref_grads = run((None, None))
    emitted = int(jnp.max(jnp.sum(jnp.isfinite(ref.layer_times[0]), axis=(1, 2))))
    assert 0 < emitted < 600
    out, grads = run((None, next_power_of_two(emitted)))
    for a, b in zip(out.layer_times, ref.layer_times, strict=True):
        assert_backend_equal(backend, a, b)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
        assert_backend_equal(backend, a, b)
    assert int(jnp.sum(out.n_input_overflow[1])) == 0
    small, _ = run((None, emitted - 1))  # one event too few for the busiest sample
    assert int(jnp.max(small.n_input_overflow[1])) >= 1


# ------------------------------------------------------------ overflow -> the reaction


@pytest.mark.standard_promotion  # optax's Adam promotes implicitly
def test_training_grows_an_overflowing_bound_and_keeps_the_exact_result(tmp_path):
    messages = []
    free = train(_config("spike_input_events=none"), tmp_path / "free", log=lambda m: None)
    tight = train(_config("spike_input_events=2"), tmp_path / "tight", log=messages.append)
    assert any("exceeded a layer's bound during training" in m for m in messages), messages
    info = json.loads((tmp_path / "tight" / "run.json").read_text())
    assert info["input_event_bounds"][1] is None or info["input_event_bounds"][1] > 2
    assert tight["input_event_bounds"] == info["input_event_bounds"]
    assert _rows(tmp_path / "tight") == _rows(tmp_path / "free")  # the redone epoch is exact
    assert sum(tight["input_overflow_per_sample"].values()) == 0
    assert free["test_accuracy"] == tight["test_accuracy"]


@pytest.mark.standard_promotion  # optax's Adam promotes implicitly
def test_auto_bound_is_recorded_and_resumed_with(tmp_path):
    cfg = _config("spike_input_events=auto", "epochs=2")
    assert train(cfg, tmp_path / "r", log=lambda m: None, stop_after=1) is None
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    most = info["event_bound_calibration"]["most_events"][1]
    assert info["input_event_bounds"] == [None, bound_for(most, 600)]
    # a resumed run keeps a bound it had grown (here: recorded by hand)
    info["input_event_bounds"] = [None, 512]
    (tmp_path / "r" / "run.json").write_text(json.dumps(info))
    res = train(cfg, tmp_path / "r", log=lambda m: None)
    assert res["input_event_bounds"] == [None, 512]


@pytest.mark.standard_promotion  # optax's Adam promotes implicitly
def test_evaluation_regrows_a_bound_too_small_for_its_split(tmp_path):
    cfg = _config("spike_input_events=none")
    train(cfg, tmp_path / "r", log=lambda m: None)
    exact = evaluate_run(tmp_path / "r", split="test")
    info_path = tmp_path / "r" / "run.json"
    info = json.loads(info_path.read_text())
    info_path.write_text(json.dumps({**info, "input_event_bounds": [None, 2]}))
    again = evaluate_run(tmp_path / "r", split="test")
    assert again["accuracy"] == exact["accuracy"]
    assert again["spikes_per_sample"] == exact["spikes_per_sample"]
    assert sum(again["input_overflow_per_sample"].values()) == 0


@pytest.mark.standard_promotion  # optax's Adam promotes implicitly
def test_an_evaluation_that_overflows_is_done_again_with_larger_bounds(tmp_path, monkeypatch):
    from snnjax.train import loop

    real, calls = loop.evaluate, []

    def evaluate_first_overflowing(*args, **kwargs):
        result = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:  # the first evaluation reports an overflowing sample
            result = {**result, "input_overflow_max": {"hidden1": 0.0, "output": 5.0}}
        return result

    monkeypatch.setattr(loop, "evaluate", evaluate_first_overflowing)
    messages = []
    cfg = _config("spike_input_events=auto")
    res = train(cfg, tmp_path / "r", log=messages.append)
    assert any("exceeded a layer's bound during evaluation" in m for m in messages), messages
    assert not any("during training" in m for m in messages)
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    calibrated = bound_for(info["event_bound_calibration"]["most_events"][1], 600)
    grown = grown_bounds((None, calibrated), [0.0, 5.0], input_slots(cfg))
    assert res["input_event_bounds"] == list(grown) == info["input_event_bounds"]
    assert len(calls) == 4  # validation and test, twice
