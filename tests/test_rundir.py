"""Tests of snnjax.train.rundir: the files of a run directory, one tolerant metrics reader,
atomic writes and errors that name the file."""

from __future__ import annotations

import json
import os
import warnings

import pytest

from snnjax.configs import config_to_dict, get_config
from snnjax.train import RunDir, RunFileError, train
from snnjax.train.rundir import read_json, read_jsonl, write_json, write_jsonl

ROWS = [{"epoch": 1, "loss": 0.5, "spikes": {"hidden1": 3.0}},
        {"epoch": 2, "loss": 0.25, "spikes": {"hidden1": 2.5}, "test": None}]


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
    info = {"config_name": "x", "layer_names": ["hidden1", "output"], "bound": None}
    run.write_run_info(info)
    assert run.read_run_info() == info
    run.write_metrics(ROWS)
    assert run.read_metrics() == ROWS
    assert run.metrics_path.read_text().count("\n") == 2  # one line per row
    results = {"test_accuracy": 0.9, "nested": {"a": [1, 2]}}
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
    assert str(tmp_path / "r") in msg and "not a snnjax run directory (no config.json)" in msg
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
    assert str(run.config_path) in msg and "not valid JSON" in msg
    run.results_path.write_text("[1]")
    msg = _message(RunFileError, run.read_results)
    assert str(run.results_path) in msg and "not an object" in msg
    assert isinstance(RunFileError("x"), ValueError)  # the CLI reports it as a user error


def test_train_resumes_past_a_truncated_metrics_line(tmp_path):
    """The training loop reads metrics.jsonl with the same tolerant reader."""
    cfg = get_config("yinyang_multispike", ["sizes=5,8,3", "epochs=2", "train_subset=100",
                                            "n_validation=50", "test_subset=50",
                                            "batch_size=50"])
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
    assert run.read_config() == cfg and run.read_run_info()["config_name"] == cfg.name
