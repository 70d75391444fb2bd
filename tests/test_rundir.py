"""Tests of snnjax.train.rundir: the files of a run directory, one tolerant metrics reader,
atomic writes and errors that name the file."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import warnings

import pytest

from snnjax.cli import main
from snnjax.configs import config_to_dict, get_config
from snnjax.train import RunDir, RunFileError, train
from snnjax.train.rundir import read_json, read_jsonl, write_json, write_jsonl

ROWS = [
    {"epoch": 1, "loss": 0.5, "spikes": {"hidden1": 3.0}},
    {"epoch": 2, "loss": 0.25, "spikes": {"hidden1": 2.5}, "test": None},
]

# A valid run.json and results.json (every field their schemas require, and one more).
RUN_INFO = {
    "config_name": "x",
    "data_source": "generated",
    "n_train": 100,
    "n_validation": 10,
    "n_test": 10,
    "input_shape": [5],
    "max_input_events": None,
    "max_active_inputs": 5,
    "layer_names": ["hidden1", "output"],
    "readout": "argmax spike count",
    "jax_version": "0",
    "snnjax_version": "0",
    "device": "cpu",
    "bound": None,
}
RESULTS = {
    "config_name": "x",
    "test_accuracy": 0.9,
    "best_test_accuracy": 0.9,
    "best_epoch": 1,
    "best_validation_accuracy": 0.8,
    "selected_by": "validation",
    "max_test_accuracy_over_epochs": None,
    "final_train_accuracy": 0.7,
    "spikes_per_sample": {"hidden1": 3.0},
    "epochs": 1,
    "seed": 0,
    "config": {},
    "layer_names": ["hidden1"],
    "checkpoints": {},
    "nested": {"a": [1, 2]},
}


def _no_tmp_files(directory) -> bool:
    return not [p for p in os.listdir(directory) if p.endswith(".tmp")]


def test_paths(tmp_path):
    run = RunDir(tmp_path / "r")
    assert run.config_path == tmp_path / "r" / "config.json"
    assert run.run_info_path == tmp_path / "r" / "run.json"
    assert run.metrics_path == tmp_path / "r" / "metrics.jsonl"
    assert run.results_path == tmp_path / "r" / "results.json"
    assert run.checkpoints_path == tmp_path / "r" / "checkpoints"
    assert os.fspath(run) == str(tmp_path / "r")
    assert not run.is_run()


def test_round_trips(tmp_path):
    run = RunDir(tmp_path)
    config = get_config("yinyang_ttfs", ["seed=3"])
    run.write_config(config)
    assert run.is_run()
    assert run.read_config() == config
    assert run.read_config_dict() == config_to_dict(config)
    run.write_config(config_to_dict(config))  # a dict is accepted too
    assert run.read_config() == config
    info = RUN_INFO
    run.write_run_info(info)
    assert run.read_run_info() == info
    run.write_metrics(ROWS)
    assert run.read_metrics() == ROWS
    assert run.metrics_path.read_text().count("\n") == 2  # one line per row
    results = RESULTS
    run.write_results(results)
    assert run.read_results() == results
    assert json.loads(run.results_path.read_text()) == results  # plain JSON
    assert _no_tmp_files(tmp_path)


def test_writes_replace_the_file_atomically(tmp_path):
    path = tmp_path / "m.jsonl"
    write_jsonl(path, ROWS)
    write_jsonl(path, ROWS[:1])  # a shorter history (resume) replaces the file
    assert read_jsonl(path) == ROWS[:1]
    write_json(tmp_path / "a.json", {"x": 1})
    write_json(tmp_path / "a.json", {"y": 2})
    assert read_json(tmp_path / "a.json") == {"y": 2}
    assert _no_tmp_files(tmp_path)


def test_truncated_last_line_is_skipped_with_a_warning(tmp_path):
    run = RunDir(tmp_path)
    run.write_metrics(ROWS)
    with run.metrics_path.open("a") as f:
        f.write('{"epoch": 3, "loss": 0.1')  # cut by an interruption
    with pytest.warns(RuntimeWarning, match=r"metrics\.jsonl, line 3: truncated"):
        assert run.read_metrics() == ROWS
    # blank lines are ignored, also after the truncated line
    with run.metrics_path.open("a") as f:
        f.write("\n\n")
    with pytest.warns(RuntimeWarning, match="line 3"):
        assert run.read_metrics() == ROWS


def test_complete_file_reads_without_warning(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS))  # no final newline
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_jsonl(path) == ROWS


def test_corrupt_middle_line_raises_naming_file_and_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n" + json.dumps(ROWS[1]) + "\n")
    with pytest.raises(RunFileError, match=r"metrics\.jsonl, line 2: not valid JSON"):
        read_jsonl(path)
    assert str(path) in _message(RunFileError, read_jsonl, path)


def test_non_object_line_raises(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    with pytest.raises(RunFileError, match=r"line 2: a JSON list, not an object"):
        read_jsonl(path)


def _message(exc_type, fn, *args, **kwargs) -> str:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_missing_files_are_named(tmp_path):
    run = RunDir(tmp_path / "r")
    msg = _message(FileNotFoundError, run.read_config)
    assert str(tmp_path / "r") in msg
    assert "not a snnjax run directory (no config.json)" in msg
    msg = _message(FileNotFoundError, run.read_results)
    assert str(run.results_path) in msg
    msg = _message(FileNotFoundError, read_jsonl, run.metrics_path, missing_ok=False)
    assert str(run.metrics_path) in msg
    # optional files: an unfinished or older run
    assert run.read_results(missing_ok=True) == {}
    assert run.read_metrics() == []
    assert run.read_run_info() == {}


def test_invalid_json_files_are_named(tmp_path):
    run = RunDir(tmp_path)
    run.config_path.write_text('{"name": "yinyang_ttfs",')
    msg = _message(RunFileError, run.read_config)
    assert str(run.config_path) in msg
    assert "not valid JSON" in msg
    run.results_path.write_text("[1]")
    msg = _message(RunFileError, run.read_results)
    assert str(run.results_path) in msg
    assert "not an object" in msg
    assert isinstance(RunFileError("x"), ValueError)  # the CLI reports it as a user error


def test_train_resumes_past_a_truncated_metrics_line(tmp_path):
    """The training loop reads metrics.jsonl with the same tolerant reader."""
    cfg = get_config(
        "yinyang_multispike",
        [
            "sizes=5,8,3",
            "epochs=2",
            "train_subset=100",
            "n_validation=50",
            "test_subset=50",
            "batch_size=50",
        ],
    )
    out = tmp_path / "run"
    assert train(cfg, out, log=lambda _msg: None, stop_after=1) is None
    run = RunDir(out)
    with run.metrics_path.open("a") as f:
        f.write('{"epoch": 2, "train_loss"')
    with pytest.warns(RuntimeWarning, match="truncated"):
        results = train(cfg, out, log=lambda _msg: None)
    assert results["epochs"] == 2
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2]
    assert run.read_results() == json.loads(run.results_path.read_text())
    assert run.read_config() == cfg
    assert run.read_run_info()["config_name"] == cfg.name


# ----------------------------------------------------------------- schemas (issue 13)


def test_config_json_must_hold_a_whole_valid_config(tmp_path):
    """``config.json`` of ``{}`` used to load as the default config."""
    run = RunDir(tmp_path)
    config = get_config("yinyang_ttfs")
    good = config_to_dict(config)
    cases = [
        (
            {},
            r"missing fields 'name', 'description'.* and \d+ more \(a run's config\.json "
            r"holds every field",
        ),
        ({k: v for k, v in good.items() if k != "sizes"}, "missing field 'sizes'"),
        ({**good, "sizes": "abc"}, "field 'sizes' must be a list of integers, got 'abc'"),
        ({**good, "epochs": 2.5}, "field 'epochs' must be an integer, got 2.5"),
        ({**good, "lr": "fast"}, "field 'lr' must be a number, got 'fast'"),
        ({**good, "train_subset": [1]}, "field 'train_subset' must be an integer or null"),
        ({**good, "no_such_field": 1}, "unknown config keys"),
        ({**good, "thetas": [0.1]}, "thetas needs 2 entries"),
    ]
    for data, match in cases:
        run.config_path.write_text(json.dumps(data))
        with pytest.raises(RunFileError, match=match) as info:
            run.read_config()
        assert str(run.config_path) in str(info.value)
    run.config_path.write_text(json.dumps({**good, "train_subset": None, "lr": 1}))
    assert run.read_config() == dataclasses.replace(config, train_subset=None, lr=1.0)


def test_run_json_and_results_json_schemas(tmp_path):
    run = RunDir(tmp_path)
    for write, read, good, field, bad in [
        (run.run_info_path, run.read_run_info, RUN_INFO, "max_input_events", "x"),
        (run.results_path, run.read_results, RESULTS, "best_epoch", None),
    ]:
        write.write_text("{}")
        msg = _message(RunFileError, read)
        assert str(write) in msg
        assert "missing fields" in msg
        write.write_text(json.dumps({k: v for k, v in good.items() if k != field}))
        assert f"missing field {field!r}" in _message(RunFileError, read)
        write.write_text(json.dumps({**good, field: bad}))
        msg = _message(RunFileError, read)
        assert str(write) in msg
        assert f"field {field!r} must be" in msg
        write.write_bytes(b"\xff\xfe\x00garbage")
        assert str(write) in _message(RunFileError, read)
        write.write_text(json.dumps(good))
        assert read() == good


def test_metrics_rows_schema(tmp_path):
    run = RunDir(tmp_path)
    run.write_metrics([ROWS[0], {"loss": 0.1}])
    msg = _message(RunFileError, run.read_metrics)
    assert f"{run.metrics_path}, line 2: missing field 'epoch'" in msg
    run.write_metrics([ROWS[0], {"epoch": "2"}])
    assert "line 2: field 'epoch' must be an integer, got '2'" in _message(
        RunFileError, run.read_metrics
    )
    run.write_metrics([ROWS[1], ROWS[0]])
    assert "line 2: field 'epoch' must be >= 1 and larger than the previous row's (2)" in _message(
        RunFileError, run.read_metrics
    )
    run.write_metrics([{"epoch": 0}])
    assert "line 1: field 'epoch' must be >= 1" in _message(RunFileError, run.read_metrics)
    # What the training loop reads back on resume: every field it writes.
    run.write_metrics(ROWS)
    assert run.read_metrics() == ROWS
    msg = _message(RunFileError, run.read_metrics, complete=True)
    assert f"{run.metrics_path}, line 1: missing fields" in msg
    assert "'train_loss'" in msg
    run.metrics_path.write_bytes(b"\x80\x81")
    assert str(run.metrics_path) in _message(RunFileError, run.read_metrics)


def _tiny_run(tmp_path_factory):
    cfg = get_config(
        "yinyang_multispike",
        [
            "sizes=5,8,3",
            "epochs=1",
            "train_subset=64",
            "n_validation=32",
            "test_subset=32",
            "batch_size=16",
        ],
    )
    out = tmp_path_factory.mktemp("tiny") / "run"
    train(cfg, out, log=lambda _msg: None)
    return cfg, out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return _tiny_run(tmp_path_factory)


@pytest.mark.parametrize(
    ("name", "content", "command", "match"),
    [
        ("config.json", "{}", "eval", "missing fields 'name'"),
        ("config.json", "", "eval", "not valid JSON"),
        ("config.json", '{"name": ', "train", "not valid JSON"),
        ("run.json", "{}", "eval", "missing fields"),
        ("run.json", "[1, 2]", "eval", "not an object"),
        ("run.json", '{"config_name": 1}', "eval", "missing fields"),
        ("metrics.jsonl", '{"epoch": 1}\n{"epoch": 2}\n', "train", "line 1: missing fields"),
        ("metrics.jsonl", "nonsense\n{}\n", "train", "line 1: not valid JSON"),
        ("metrics.jsonl", "", "train", "lacks rows of epochs 1 to 1"),
        ("results.json", '{"test_accuracy": "high"}', "tradeoffs", "missing fields"),
        ("results.json", "\x00\x01", "tradeoffs", "not valid JSON"),
    ],
)
def test_corrupted_run_files_are_named_by_the_cli(
    tiny_run, tmp_path, capsys, name, content, command, match
):
    """``snnjax eval``, a resumed ``snnjax train`` and ``snnjax tradeoffs`` on a run with
    a damaged file: exit status 2 and one line naming the file (never the default config
    or a raw JSON error)."""
    _cfg, good = tiny_run
    run = tmp_path / "run"
    shutil.copytree(good, run)
    (run / name).write_text(content)
    argv = {
        "eval": ["eval", str(run)],
        "train": [
            "train",
            "--out",
            str(run),
            "--epochs",
            "2",
            "--quiet",
            *[
                a
                for k in (
                    "sizes=5,8,3",
                    "train_subset=64",
                    "n_validation=32",
                    "test_subset=32",
                    "batch_size=16",
                )
                for a in ("--set", k)
            ],
        ],
        "tradeoffs": [
            "tradeoffs",
            str(run),
            "--out",
            str(tmp_path / "report"),
            "--checkpoint",
            "last",
            "--n-samples",
            "8",
            "--noise-seeds",
            "1",
        ],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    # tradeoffs prints progress ("loading 1 run(s) ...") before it fails: then comes the
    # error, once, naming the file.
    head = f"snnjax {command}: error:"
    assert err.count(head) == 1, err
    before, message = err[: err.index(head)], err[err.index(head) :]
    assert all(line.startswith("loading ") for line in before.splitlines()), err
    assert str(run / name) in message, err
    assert re.search(match, message), err
