"""Tests of snnjax.configs and snnjax.train: learning smoke tests per config, resume,
metrics/results files, data pipeline, optimizer schedule and the gradient guards."""

from __future__ import annotations

import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import BACKENDS, shared_data_dir

from snnjax.configs import (
    CONFIGS,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    get_config,
    parse_override,
)
from snnjax.data import load_dataset
from snnjax.train import (
    RunCheckpoints,
    RunMismatchError,
    TrainState,
    build_model,
    evaluate_run,
    guard_weight_gradients,
    init_params,
    input_event_bound,
    make_lr_schedule,
    make_optimizer,
    make_train_step,
    prepare_data,
    spiking_layer_names,
    train,
)

MNIST_DIR = str(shared_data_dir() / "mnist")
EMNIST_DIR = str(shared_data_dir() / "emnist")
DATA_DIRS = {"mnist": MNIST_DIR, "emnist": EMNIST_DIR, "fashion_mnist": None}


def _silent(_msg: str) -> None:
    pass


def _have(dataset: str) -> bool:
    try:
        load_dataset(dataset, "test", data_dir=DATA_DIRS[dataset], source="idx")
    except (FileNotFoundError, ValueError):
        return False
    return True


def _metrics(run_dir) -> list[dict]:
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


# A Yin-Yang config that learns in seconds (full 5000-sample training split, small net).
YY_TINY = ["sizes=5,100,3", "epochs=3", "test_subset=500", "n_validation=500"]


# ----------------------------------------------------------------------------- configs


def test_named_configs_match_spec_table():
    assert set(CONFIGS) == {
        "yinyang_multispike",
        "yinyang_ttfs",
        "mnist_ttfs",
        "mnist_multispike",
        "emnist",
        "fashion_mnist",
        "mnist_conv",
        "fashion_mnist_ttfs",
        "emnist_ttfs",
    }
    m = CONFIGS["mnist_multispike"]
    assert (m.sizes, m.thetas, m.max_spikes, m.t_max) == ((784, 800, 10), (0.2, 1.3), (30, 30), 0.2)
    assert (m.loss, m.n_true, m.n_false, m.lr, m.batch_size, m.epochs) == (
        "count",
        15,
        3,
        0.003,
        50,
        100,
    )
    t = CONFIGS["mnist_ttfs"]
    assert (t.thetas, t.max_spikes, t.t_max, t.tau_loss, t.lr, t.epochs) == (
        (0.7, 2.0),
        (1, 1),
        1.0,
        0.005,
        0.002,
        30,
    )
    assert t.init == (("uniform", 0.0, 1.0),)
    f = CONFIGS["fashion_mnist"]
    assert (f.sizes, f.thetas, f.max_spikes, f.batch_size, f.lr, f.lr_floor) == (
        (784, 400, 400, 10),
        (0.13, 0.45, 0.7),
        (5, 5, 20),
        5,
        5e-4,
        1e-4,
    )
    c = CONFIGS["mnist_conv"]
    assert (c.conv_features, c.sizes, c.thetas, c.max_spikes, c.n_true, c.batch_size) == (
        (15, 40),
        (300, 10),
        (0.04, 0.8, 0.6, 0.3),
        (1, 3, 10, 30),
        30,
        20,
    )
    assert CONFIGS["emnist"].sizes == (784, 800, 47)
    # Both Yin-Yang readouts on the same network and time constant (a fair comparison).
    ms, tt = CONFIGS["yinyang_multispike"], CONFIGS["yinyang_ttfs"]
    assert ms.sizes == tt.sizes == (5, 400, 3)
    assert ms.tau_syn == tt.tau_syn
    assert ms.thetas == tt.thetas
    assert (ms.loss, tt.loss, tt.max_spikes) == ("count_ce", "ttfs", (1, 1))
    for cfg in (ms, tt):
        assert "no Yin-Yang run" in cfg.description


def test_override_parsing_and_types():
    assert parse_override("epochs=7") == ("epochs", 7)
    assert parse_override("epochs=7.0") == ("epochs", 7)
    assert parse_override("lr=1e-3") == ("lr", 0.001)
    assert parse_override("sizes=5, 60,3") == ("sizes", (5, 60, 3))
    assert parse_override("thetas=0.1,0.2") == ("thetas", (0.1, 0.2))
    assert parse_override("grad_clip=none") == ("grad_clip", None)
    assert parse_override("grad_clip=1.5") == ("grad_clip", 1.5)
    assert parse_override("batch-size=8") == ("batch_size", 8)
    assert parse_override("init=uniform,-1,1") == ("init", (("uniform", -1.0, 1.0),))
    assert parse_override("init=normal,0,1;uniform,0,2") == (
        "init",
        (("normal", 0.0, 1.0), ("uniform", 0.0, 2.0)),
    )
    cfg = get_config("yinyang_ttfs", ["sizes=5,7,3", "seed=3"])
    assert cfg.sizes == (5, 7, 3)
    assert cfg.seed == 3
    assert cfg.name == "yinyang_ttfs"


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("nokey=1", "unknown config key 'nokey'; valid keys: name, description"),
        ("epochs", "not of the form key=value"),
        ("epochs=abc", "epochs: expected an integer"),
        ("lr=fast", "lr: expected a number"),
        ("sizes=5,x,3", "sizes: expected an integer"),
        ("init=uniform,1", "init: expected"),
        ("init=gauss,0,1", "init entries must be"),
    ],
)
def test_override_errors(item, match):
    with pytest.raises(ConfigError, match=match):
        get_config("yinyang_multispike", [item])


def test_inconsistent_config_and_unknown_name():
    with pytest.raises(ConfigError, match="thetas needs 3 entries"):
        get_config("yinyang_multispike", ["sizes=5,10,10,3"])
    with pytest.raises(
        ConfigError, match="unknown config 'nope'; valid configs: yinyang_multispike"
    ):
        get_config("nope")
    with pytest.raises(ConfigError, match="loss must be one of"):
        get_config("yinyang_multispike", ["loss=mse"])
    with pytest.raises(ConfigError, match="unknown config key"):
        apply_overrides(CONFIGS["mnist_ttfs"], {"lr_rate": 0.1})


def test_config_dict_round_trip():
    for cfg in CONFIGS.values():
        d = json.loads(json.dumps(config_to_dict(cfg)))
        assert config_from_dict(d) == cfg
    with pytest.raises(ConfigError, match="unknown config keys"):
        config_from_dict({**config_to_dict(CONFIGS["emnist"]), "bogus": 1})


# ----------------------------------------------------------------- data and schedules


def test_prepare_data_yinyang():
    cfg = get_config(
        "yinyang_multispike",
        ["t_window=0.3", "bias_time=0.05", "n_validation=200", "train_subset=100"],
    )
    data = prepare_data(cfg)
    assert data.train.times.shape == (100, 5, 1)
    assert data.train.times.dtype == np.float32
    assert data.validation.times.shape == (200, 5, 1)
    assert data.test.times.shape == (1000, 5, 1)
    assert np.all(data.train.times[:, 4, 0] == np.float32(0.05))  # bias spike
    assert data.train.times[:, :4].max() <= 0.3 + 1e-6
    assert data.num_classes == 3
    assert data.input_shape == (5,)
    assert "Yin-Yang" in data.source
    assert input_event_bound(cfg, data) is None  # only 5 inputs: no bound needed
    assert input_event_bound(dataclasses.replace(cfg, max_input_events=3), data) == 3
    test_only = prepare_data(cfg, splits=("test",))
    assert len(test_only.train) == 0
    assert len(test_only.test) == 1000


def test_prepare_data_rejects_mismatched_network():
    with pytest.raises(ValueError, match="has 4 inputs"):
        prepare_data(get_config("yinyang_multispike", ["sizes=4,10,3"]))
    with pytest.raises(ValueError, match="3 classes"):
        prepare_data(get_config("yinyang_multispike", ["sizes=5,10,4"]))


@pytest.mark.skipif(not _have("mnist"), reason="MNIST IDX files not available")
def test_prepare_data_mnist_split_and_bound():
    cfg = get_config(
        "mnist_multispike", ["n_validation=1000", "train_subset=300", "test_subset=200"]
    )
    data = prepare_data(cfg, MNIST_DIR)
    assert data.train.times.shape == (300, 784, 1)
    assert data.validation.times.shape == (1000, 784, 1)
    assert data.test.times.shape == (200, 784, 1)
    assert "md5 verified" in data.source
    bound = input_event_bound(cfg, data)
    active = [
        np.isfinite(s.times).sum(axis=(1, 2)).max()
        for s in (data.train, data.validation, data.test)
    ]
    assert bound == max(active) == data.max_active_inputs
    # The validation samples are held out of the training split (no overlap).
    full = load_dataset("mnist", "train", data_dir=MNIST_DIR)
    from snnjax.data import train_validation_split

    fit, val = train_validation_split(full, 1000, seed=0)
    assert fit.images.shape[0] + val.images.shape[0] == full.images.shape[0]
    conv = prepare_data(
        get_config("mnist_conv", ["train_subset=10", "test_subset=10", "n_validation=10"]),
        MNIST_DIR,
    )
    assert conv.train.times.shape == (10, 28, 28, 1, 1)
    assert conv.input_shape == (28, 28, 1)


def test_missing_image_data_message(tmp_path, monkeypatch):
    monkeypatch.delenv("SNNJAX_DATA_DIR", raising=False)
    cfg = get_config("mnist_ttfs")
    with pytest.raises(FileNotFoundError, match="could not find MNIST"):
        train(cfg, tmp_path / "run", data_dir=tmp_path / "nowhere", log=_silent)
    assert not (tmp_path / "run").exists()  # nothing written when the data is missing


def test_step_schedule_halves_with_floor():
    cfg = get_config("fashion_mnist")
    sched = make_lr_schedule(cfg, steps_per_epoch=3)
    lrs = [float(sched(3 * e)) for e in (0, 9, 10, 19, 20, 30, 50, 99)]
    np.testing.assert_allclose(
        lrs, [5e-4, 5e-4, 2.5e-4, 2.5e-4, 1.25e-4, 1e-4, 1e-4, 1e-4], rtol=1e-6
    )
    const = make_lr_schedule(CONFIGS["mnist_multispike"], steps_per_epoch=3)
    assert float(const(1000)) == pytest.approx(0.003)


def test_model_from_config_layer_names():
    cfg = get_config("mnist_conv", ["conv_features=2,3", "sizes=5,10"])
    model = build_model(cfg)
    assert spiking_layer_names(model) == ["conv1", "conv2", "hidden1", "output"]
    dense = build_model(get_config("fashion_mnist"), max_input_events=100)
    assert spiking_layer_names(dense) == ["hidden1", "hidden2", "output"]
    assert dense.layers[0].max_input_events == 100
    assert dense.layers[1].max_input_events is None


# ---------------------------------------------------------------- gradient guards


def test_guard_weight_gradients_zeroes_large_columns():
    g = jnp.array(
        [
            [[0.1, 5.0], [0.2, 0.1]],  # sample 0: column 1 has |dw| 5 > 1
            [[0.3, 0.2], [-2.0, 0.1]],
        ]
    )  # sample 1: column 0 has |dw| 2 > 1
    mean, n = guard_weight_gradients({"k": g}, bound=1.0)
    expected = jnp.array([[0.1 + 0.0, 0.0 + 0.2], [0.2 + 0.0, 0.0 + 0.1]]) / 2
    np.testing.assert_allclose(mean["k"], expected, rtol=1e-6)
    assert float(n) == 2.0
    mean, n = guard_weight_gradients({"k": g}, bound=10.0)
    np.testing.assert_allclose(mean["k"], g.mean(0), rtol=1e-6)
    assert float(n) == 0.0


def _one_step(cfg, data):
    model = build_model(cfg)
    params = init_params(model, data.input_shape, cfg.seed)
    opt = make_optimizer(cfg, 1)
    state = TrainState(params, opt.init(params), jnp.int32(0))
    step = make_train_step(model, cfg, opt)
    x, y = data.train.times[:16], data.train.labels[:16]
    new, metrics = step(state, x, y)
    return params, new.params, metrics


def test_weight_grad_guard_loose_bound_equals_exact_gradient():
    base = get_config("yinyang_multispike", ["sizes=5,12,3", "batch_size=16", "train_subset=16"])
    data = prepare_data(base, splits=("train",))
    p0, exact, m_exact = _one_step(base, data)
    _, loose, m_loose = _one_step(dataclasses.replace(base, weight_grad_guard=1e30), data)
    for a, b in zip(jax.tree.leaves(exact), jax.tree.leaves(loose), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert float(m_loose["guarded_columns"]) == 0.0
    for k in ("loss_sum", "correct", "spikes"):
        np.testing.assert_allclose(m_exact[k], m_loose[k], rtol=1e-5)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(loose), strict=True)
    )


# -------------------------------------------------------------- learning smoke tests


@pytest.mark.parametrize("name", ["yinyang_multispike", "yinyang_ttfs"])
def test_yinyang_configs_learn(name, tmp_path):
    cfg = get_config(name, YY_TINY)
    res = train(cfg, tmp_path / name, log=_silent)
    rows = _metrics(tmp_path / name)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert res["best_validation_accuracy"] > 0.5, res  # chance is 1/3
    assert res["test_accuracy"] > 0.5, res
    assert all(r["nonfinite_grad_steps"] == 0 for r in rows)


# Small networks need smaller thresholds than the paper's 800-neuron layers: the drive of a
# layer grows with the number of its inputs, so thresholds are scaled down accordingly.
IMAGE_SMOKE = {
    # name: (overrides, minimum validation accuracy after the short run)
    "mnist_multispike": (
        [
            "sizes=784,40,10",
            "thetas=0.2,0.07",
            "max_spikes=4,8",
            "n_true=5",
            "n_false=1",
            "lr=0.01",
        ],
        0.3,
    ),
    "mnist_ttfs": (["sizes=784,40,10", "thetas=0.7,0.1"], 0.3),
    "emnist": (
        ["sizes=784,100,47", "thetas=0.2,0.2", "max_spikes=4,8", "n_true=4", "n_false=1"],
        0.05,
    ),
    # (3 epochs of a 784-30-30-10 net on 2000 images reach 0.23-0.31 depending on the seed
    # and float rounding: 2x chance is the bar.)
    "fashion_mnist": (
        [
            "sizes=784,30,30,10",
            "thetas=0.13,0.034,0.05",
            "max_spikes=3,3,8",
            "lr=0.01",
            "n_true=5",
            "n_false=1",
        ],
        0.2,
    ),
    "mnist_conv": (
        [
            "conv_features=4,8",
            "sizes=30,10",
            "thetas=0.04,0.2,0.3,0.1",
            "max_spikes=1,2,4,8",
            "n_true=5",
            "n_false=1",
            "eval_batch_size=100",
        ],
        0.13,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(IMAGE_SMOKE))
def test_image_configs_learn(name, tmp_path):
    cfg = CONFIGS[name]
    if not _have(cfg.dataset):
        pytest.skip(f"{cfg.dataset} IDX files not available")
    overrides, min_acc = IMAGE_SMOKE[name]
    n_train = 1200 if name == "mnist_conv" else 2000
    cfg = get_config(
        name,
        overrides
        + [
            f"train_subset={n_train}",
            "n_validation=300",
            "test_subset=300",
            "epochs=3",
            "batch_size=20",
        ],
    )
    res = train(cfg, tmp_path / name, data_dir=DATA_DIRS[cfg.dataset], log=_silent)
    rows = _metrics(tmp_path / name)
    assert rows[-1]["train_loss"] < rows[0]["train_loss"], rows
    chance = 1.0 / cfg.num_classes
    assert res["best_validation_accuracy"] > max(min_acc, 1.3 * chance), res
    assert res["test_accuracy"] > 1.3 * chance, res
    assert sum(res["input_overflow_per_sample"].values()) == 0


@pytest.mark.skipif(not _have("mnist"), reason="MNIST IDX files not available")
def test_mnist_tiny_learns_quickly(tmp_path):
    """Fast (non-slow) MNIST smoke test: tiny subset and network, above chance."""
    cfg = get_config(
        "mnist_multispike",
        [
            "sizes=784,40,10",
            "thetas=0.2,0.07",
            "max_spikes=4,8",
            "n_true=5",
            "n_false=1",
            "lr=0.01",
            "train_subset=2000",
            "n_validation=200",
            "test_subset=200",
            "epochs=2",
            "batch_size=20",
        ],
    )
    res = train(cfg, tmp_path / "m", data_dir=MNIST_DIR, log=_silent)
    rows = _metrics(tmp_path / "m")
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert res["test_accuracy"] > 0.2, res  # chance 0.1
    assert 100 < res["max_input_events"] < 784  # bound computed from the data
    assert res["input_overflow_per_sample"] == {"hidden1": 0.0, "output": 0.0}


# ---------------------------------------------------------------- files and resume


def test_metrics_and_results_files(tmp_path):
    cfg = get_config(
        "yinyang_multispike",
        ["sizes=5,16,3", "epochs=2", "train_subset=400", "n_validation=200", "test_subset=200"],
    )
    lines = []
    res = train(cfg, tmp_path / "run", log=lines.append)
    run = tmp_path / "run"
    for name in ("config.json", "run.json", "metrics.jsonl", "results.json"):
        assert (run / name).is_file()
    on_disk = json.loads((run / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(res))
    rows = _metrics(run)
    assert len(rows) == 2
    for row in rows:
        for key in (
            "epoch",
            "train_loss",
            "train_accuracy",
            "validation_accuracy",
            "test_accuracy",
            "spikes_per_sample",
            "silent_neurons",
            "dropped_spikes_per_sample",
            "input_overflow_per_sample",
            "wall_time_s",
            "samples_per_s",
            "lr",
        ):
            assert key in row, key
        assert set(row["spikes_per_sample"]) == {"hidden1", "output"}
        assert 0.0 <= row["silent_neurons"]["hidden1"] <= 1.0
    assert rows[0]["compile_time_s"] > 0
    assert rows[1]["compile_time_s"] is None
    best = max(rows, key=lambda r: (r["validation_accuracy"], -r["epoch"]))
    assert res["selected_by"] == "validation"
    assert res["best_epoch"] == best["epoch"]
    assert res["best_test_accuracy"] == best["test_accuracy"]
    assert res["test_accuracy"] == rows[-1]["test_accuracy"]
    assert res["max_test_accuracy_over_epochs"]["value"] == max(r["test_accuracy"] for r in rows)
    assert res["train_samples_per_s"] > 0
    assert res["compile_time_s"] > 0
    assert res["epochs"] == 2
    assert res["seed"] == 0
    assert res["config"] == config_to_dict(cfg)
    assert "Yin-Yang" in res["data_source"]
    assert res["jax_version"] == jax.__version__
    assert res["device"]
    assert set(res["spikes_per_sample"]) == {"hidden1", "output"}
    assert len([ln for ln in lines if ln.startswith("epoch ")]) == 2
    # The best checkpoint evaluates to the recorded test accuracy at the best epoch.
    ev = evaluate_run(run, checkpoint="best")
    assert ev["epoch"] == res["best_epoch"]
    assert ev["accuracy"] == pytest.approx(res["best_test_accuracy"])
    ev_last = evaluate_run(run, checkpoint="last")
    assert ev_last["accuracy"] == pytest.approx(res["test_accuracy"])
    # A different config in the same directory is refused.
    with pytest.raises(RunMismatchError, match="differs in: seed"):
        train(dataclasses.replace(cfg, seed=1), run, log=_silent)


def _final_params(run_dir, cfg):
    model = build_model(cfg)
    params = init_params(model, (5,), cfg.seed)
    opt = make_optimizer(cfg, 1)
    like = TrainState(params, opt.init(params), jnp.int32(0))
    ckpts = RunCheckpoints(os.path.join(run_dir, "checkpoints"))
    try:
        state, meta = ckpts.restore("last", like)
    finally:
        ckpts.close()
    return state, meta


@pytest.mark.parametrize("backend", ["loop", "auto"])
def test_resume_equals_uninterrupted_run(tmp_path, backend):
    """An interrupted + resumed run ends with the parameters of an uninterrupted one.

    Both backends are deterministic (the compiled CPU kernel adds its per-thread weight
    gradients in thread order), so the comparison is bitwise.
    """
    cfg = get_config(
        "yinyang_multispike",
        [
            "sizes=5,8,3",
            "epochs=3",
            "train_subset=200",
            "n_validation=100",
            "test_subset=100",
            "lr_schedule=step",
            "lr_decay_every=1",
        ],
    )
    full = train(cfg, tmp_path / "full", log=_silent, backend=backend)
    # Interrupted after epoch 1, then the same call again.
    assert train(cfg, tmp_path / "res", log=_silent, stop_after=1, backend=backend) is None
    assert not (tmp_path / "res" / "results.json").exists()
    lines = []
    resumed = train(cfg, tmp_path / "res", log=lines.append, backend=backend)
    assert any("resuming" in ln and "after epoch 1" in ln for ln in lines)
    s_full, m_full = _final_params(tmp_path / "full", cfg)
    s_res, m_res = _final_params(tmp_path / "res", cfg)
    assert m_full["epoch"] == m_res["epoch"] == 3
    rows_full, rows_res = _metrics(tmp_path / "full"), _metrics(tmp_path / "res")
    assert [r["epoch"] for r in rows_res] == [1, 2, 3]
    for a, b in zip(jax.tree.leaves(s_full), jax.tree.leaves(s_res), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    timing = (
        "wall_time_s",
        "train_time_s",
        "samples_per_s",
        "compile_time_s",
        "train_samples_steady",
    )
    for a, b in zip(rows_full, rows_res, strict=True):
        assert {k: v for k, v in a.items() if k not in timing} == {
            k: v for k, v in b.items() if k not in timing
        }
    for key in ("test_accuracy", "best_test_accuracy", "best_epoch", "spikes_per_sample"):
        assert full[key] == resumed[key]
    # run.json records the backend that ran (auto: the compiled one on CPU, where it builds)
    ran = json.loads((tmp_path / "full" / "run.json").read_text())["backend"]
    assert ran == ("ffi" if backend == "auto" and "ffi" in BACKENDS else "loop")
    if backend == "loop":
        return
    # A finished run called again does no more work and returns the same results.
    again = train(cfg, tmp_path / "res", log=_silent, backend=backend)
    assert again["test_accuracy"] == full["test_accuracy"]
    # Extending a finished run continues from its last checkpoint.
    longer = train(
        dataclasses.replace(cfg, epochs=4), tmp_path / "res", log=_silent, backend=backend
    )
    assert longer["epochs"] == 4
    assert len(_metrics(tmp_path / "res")) == 4
