"""Tests of the ``snnjax`` command (snnjax.cli.main)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from snnjax.cli import main
from snnjax.configs import CONFIGS

TINY = [
    "--set",
    "sizes=5,12,3",
    "--set",
    "train_subset=200",
    "--set",
    "n_validation=100",
    "--set",
    "test_subset=100",
]


def test_configs_lists_every_config(capsys):
    assert main(["configs"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == len(CONFIGS)
    for name, line in zip(CONFIGS, out, strict=True):
        assert line.startswith(name)
    assert "(default)" in out[0]
    assert out[0].startswith("yinyang_multispike")


def test_train_then_eval(tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(
        [
            "train",
            "--epochs",
            "2",
            "--batch-size",
            "20",
            "--seed",
            "3",
            "--out",
            str(run),
            "--quiet",
            *TINY,
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "yinyang_multispike: test accuracy" in out
    assert "spikes per sample" in out
    assert f"{run}/results.json" in out
    res = json.loads((run / "results.json").read_text())
    assert res["epochs"] == 2
    assert res["seed"] == 3
    assert res["config"]["batch_size"] == 20
    assert res["config"]["sizes"] == [5, 12, 3]
    assert res["config"]["name"] == "yinyang_multispike"
    assert f"{100 * res['test_accuracy']:.2f}%" in out

    # The default checkpoint changed from last to best (issue 14: one default for eval and
    # tradeoffs); each assertion is kept, with the flag that selects its checkpoint.
    assert main(["eval", str(run), "--checkpoint", "last"]) == 0
    out = capsys.readouterr().out
    assert "last checkpoint (epoch 2)" in out
    assert f"accuracy {100 * res['test_accuracy']:.2f}%" in out
    assert "spikes per sample: hidden1" in out
    assert "silent neurons" in out

    assert main(["eval", str(run), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["checkpoint"] == "best"
    assert ev["epoch"] == res["best_epoch"]
    assert ev["accuracy"] == pytest.approx(res["best_test_accuracy"])


def test_train_resumes_same_out(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "yinyang_ttfs", "--epochs", "1", "--out", str(run), *TINY]
    assert main(args) == 0
    capsys.readouterr()
    # Same command with more epochs continues from the checkpoint of epoch 1.
    assert main(["train", "yinyang_ttfs", "--epochs", "2", "--out", str(run), *TINY]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out
    assert "after epoch 1" in out
    assert "epoch 2/2" in out
    assert "epoch 1/2" not in out


def test_default_out_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--epochs", "1", "--quiet", *TINY]) == 0
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    assert runs[0].name.startswith("yinyang_multispike-")
    assert (runs[0] / "results.json").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nope"], "unknown config 'nope'; valid configs: yinyang_multispike"),
        (["train", "--set", "bogus=1"], "unknown config key 'bogus'; valid keys:"),
        (["train", "--set", "epochs=many"], "epochs: expected an integer"),
        (["train", "--set", "sizes=5,10,10,3"], "thetas needs 3 entries"),
        (["train", "--set", "noequals"], "not of the form key=value"),
        (["train", "--devices", "two"], "--devices must be a positive integer or 'all'"),
        (["train", "--devices", "0"], "--devices must be >= 1"),
        (["train", "--devices", "64"], "asked for 64 devices"),
    ],
)
def test_train_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnjax train: error:")
    assert message in err


def test_missing_data_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SNNJAX_DATA_DIR", raising=False)
    rc = main(
        [
            "train",
            "mnist_multispike",
            "--data-dir",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "could not find MNIST" in err
    assert "--data-dir" in err
    assert not (tmp_path / "run").exists()


def test_eval_errors(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a snnjax run directory" in capsys.readouterr().err


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "train" in capsys.readouterr().out


def test_backend_flag(tmp_path, capsys):
    """``--backend`` picks the event backend of train and eval; run.json records it."""
    run = tmp_path / "run"
    assert (
        main(["train", "--epochs", "1", "--out", str(run), "--quiet", "--backend", "loop", *TINY])
        == 0
    )
    assert json.loads((run / "run.json").read_text())["backend"] == "loop"
    res = json.loads((run / "results.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(run), "--json", "--backend", "auto"]) == 0
    ev = json.loads(capsys.readouterr().out)
    # (the backends agree up to float rounding, which may flip a near tie)
    assert ev["accuracy"] == pytest.approx(res["test_accuracy"], abs=0.02)
    with pytest.raises(SystemExit):  # argparse: not one of auto, ffi, loop
        main(["train", "--backend", "fortran"])
    assert "invalid choice: 'fortran'" in capsys.readouterr().err


def test_python_dash_m_snnjax_trains(tmp_path):
    """``python -m snnjax train`` (snnjax/__main__.py) runs the same command in a fresh process."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    run = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snnjax",
            "train",
            "--epochs",
            "1",
            "--batch-size",
            "20",
            "--out",
            str(run),
            "--quiet",
            *TINY,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "yinyang_multispike: test accuracy" in proc.stdout
    assert json.loads((run / "results.json").read_text())["epochs"] == 1
    proc = subprocess.run(
        [sys.executable, "-m", "snnjax", "train", "nope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2
    assert "snnjax train: error: unknown config" in proc.stderr


def test_configs_show_prints_every_field(capsys):
    """``snnjax configs --show NAME`` prints each field of the config, overrides applied,
    so that the experiment READMEs can point to it instead of copying the table."""
    from snnjax.configs import config_to_dict

    assert main(["configs", "--show", "yinyang_ttfs", "--set", "epochs=7"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    fields = config_to_dict(CONFIGS["yinyang_ttfs"])
    assert [line.split()[0] for line in lines] == list(fields)
    assert dict(line.split(maxsplit=1) for line in lines)["epochs"] == "7"
    assert main(["configs", "--show", "nope"]) == 2
    assert "unknown config 'nope'" in capsys.readouterr().err
