"""Numeric config validation (issue 13): every numeric field has a rule, checked on --set,
the Python API and config dicts; errors name the field, the value and the rule."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

from snnjax.cli import main
from snnjax.configs import (
    CONFIGS,
    FIELD_RULES,
    ConfigError,
    ExperimentConfig,
    FieldRule,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    get_config,
)

BAD = [
    ("lr", "inf", "a finite number > 0"),
    ("lr", "0", "a finite number > 0"),
    ("n_true", "nan", "a finite number >= 0"),
    ("n_false", "-1", "a finite number >= 0"),
    ("alpha", "nan", "a finite number >= 0"),
    ("alpha", "-0.5", "a finite number >= 0"),
    ("tau_syn", "-inf", "a finite number > 0"),
    ("tau_loss", "nan", "a finite number > 0"),
    ("t_max", "inf", "a finite number > 0"),
    ("beta", "0", "a finite number > 0"),
    ("bias_time", "nan", "a finite number >= 0"),
    ("count_temperature", "inf", "a finite number > 0"),
    ("thetas", "nan,0.3", "a sequence of finite numbers > 0"),
    ("thetas", "0.2,inf", "a sequence of finite numbers > 0"),
    ("max_spikes", "0,3", "a sequence of integers >= 1"),
    ("lr_decay_factor", "1.5", "a finite number > 0 and <= 1"),
    ("lr_floor", "nan", "a finite number >= 0"),
    ("batch_size", "0", "an integer >= 1"),
    ("eval_batch_size", "-3", "an integer >= 1"),
    ("epochs", "0", "an integer >= 1"),
    ("keep_checkpoints", "0", "an integer >= 1"),
    ("grad_clip", "nan", "a finite number > 0 or None"),
    ("weight_grad_guard", "-1", "a finite number > 0 or None"),
    ("weight_bump", "0", "a finite number > 0 or None"),
    ("train_subset", "0", "an integer >= 1 or None"),
    ("seed", "-1", "an integer >= 0"),
]


@pytest.mark.parametrize(("field", "text", "rule"), BAD)
def test_set_rejects_bad_numbers(field, text, rule):
    with pytest.raises(ConfigError, match="invalid") as info:
        get_config("yinyang_multispike", [f"{field}={text}"])
    message = str(info.value)
    assert f"{field} = " in message
    assert rule in message


@pytest.mark.parametrize(("field", "text", "rule"), BAD[:6])
def test_cli_set_exits_2_naming_the_field(field, text, rule, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--set", f"{field}={text}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnjax train: error:")
    assert f"{field} = " in err
    assert rule in err
    assert not (out / "results.json").exists()


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(lr=float("inf")), "lr"),
        (dict(epochs=True), "epochs"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(lr="0.1"), "lr"),
        (dict(sizes=(5, "a", 3)), "sizes"),
        (dict(seed=None), "seed"),
        (dict(n_true=np.float64("nan")), "n_true"),
        (dict(max_input_events=np.bool_(True)), "max_input_events"),
    ],
)
def test_python_api_rejects_bad_values(kw, field):
    with pytest.raises(ConfigError, match=rf"{field} = .* is invalid: it must be"):
        ExperimentConfig(**kw)
    with pytest.raises(ConfigError, match=rf"{field} = "):
        apply_overrides(CONFIGS["yinyang_ttfs"], kw)


def test_numpy_numbers_are_accepted():
    cfg = ExperimentConfig(epochs=np.int64(3), lr=np.float32(0.01), seed=np.int32(1))
    assert cfg.epochs == 3


def test_relations_name_both_fields():
    with pytest.raises(
        ConfigError, match=r"n_true = 3.0, n_false = 3.0 are invalid.*n_true > n_false"
    ):
        get_config("mnist_multispike", ["n_true=3"])
    with pytest.raises(ConfigError, match=r"lr_floor = 0.001, lr = 0.0005 are invalid"):
        get_config("fashion_mnist", ["lr_floor=1e-3"])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("uniform,1,-1", "'uniform' needs low <= high"),
        ("normal,0,-1", "'normal' needs std >= 0"),
        ("normal,nan,1", "must be finite"),
        ("uniform,-inf,1", "must be finite"),
    ],
)
def test_init_parameters_are_checked(text, match):
    with pytest.raises(ConfigError, match=match):
        get_config("yinyang_multispike", [f"init={text}"])
    with pytest.raises(ConfigError, match="init entries must be"):
        ExperimentConfig(init=("uniform", "low", 1.0))


def test_config_dict_with_bad_number_names_field():
    data = {**config_to_dict(CONFIGS["yinyang_ttfs"]), "alpha": float("nan")}
    with pytest.raises(ConfigError, match="alpha = nan is invalid"):
        config_from_dict(data)


def _is_numeric(annotation) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(
        a in (int, float) or (typing.get_origin(a) is tuple and _is_numeric(a)) for a in args
    )


def test_every_numeric_field_has_a_rule():
    hints = typing.get_type_hints(ExperimentConfig)
    numeric = {
        f.name
        for f in dataclasses.fields(ExperimentConfig)
        if f.name != "init" and _is_numeric(hints[f.name])
    }
    assert numeric - set(FIELD_RULES) == set(), "add a FieldRule for each new numeric field"
    assert set(FIELD_RULES) <= numeric


def test_named_configs_obey_the_rules():
    for cfg in CONFIGS.values():
        assert dataclasses.replace(cfg) == cfg


def test_rule_descriptions():
    assert FieldRule(gt=0).describe() == "a finite number > 0"
    assert FieldRule(integer=True, ge=1, optional=True).describe() == "an integer >= 1 or None"
    assert FieldRule(gt=0, le=1).describe() == "a finite number > 0 and <= 1"
