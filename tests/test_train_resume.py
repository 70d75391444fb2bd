"""Kill and resume: a training process killed (SIGKILL) at any point of an epoch's commit
resumes, with the same command, to exactly the state of an uninterrupted run; and run
directories left in other broken states (deleted checkpoints, a failed start) have a way on.

A real ``python`` subprocess trains a tiny Yin-Yang network. Its entry script (below,
not the library) reads ``KILL`` from its arguments and kills its own process with
SIGKILL either as a stage of an epoch's commit begins (``"EPOCH:STAGE"``, a stage of
:data:`snnjax.train.loop.COMMIT_STAGES`) or inside the stage's write, just before the
rename that commits it (``"EPOCH:STAGE:rename"``: the temporary ``metrics.jsonl`` /
``results.json`` file, or Orbax's temporary checkpoint directory, is then left behind).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from snnjax.cli import main
from snnjax.configs import get_config
from snnjax.train import (
    RunCheckpoints,
    RunDir,
    RunMismatchError,
    TrainState,
    build_model,
    init_params,
    make_optimizer,
    train,
)
from snnjax.train.summary import TIMING_FIELDS

# The time scale and loss of the first Yin-Yang config (the kill points rely on the best
# epoch of this tiny run being epoch 2).
OVERRIDES = [
    "tau_syn=0.13",
    "t_window=0.2",
    "t_max=0.5",
    "loss=count",
    "max_spikes=10,15",
    "sizes=5,8,3",
    "thetas=0.1,0.1",
    "lr=0.01",
    "epochs=3",
    "train_subset=64",
    "n_validation=32",
    "test_subset=32",
    "batch_size=16",
    "eval_batch_size=64",
]

ROOT = Path(__file__).resolve().parents[1]

ENTRY = r"""
import os, signal, sys

out, kill = sys.argv[1], sys.argv[2]
overrides = sys.argv[3:]
from snnjax.train import loop

def die():
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

if kill:
    epoch, stage, *inside = kill.split(":")
    assert stage in loop.COMMIT_STAGES, stage
    armed = []
    real_hook = loop._commit_stage

    def hook(st, ep):
        real_hook(st, ep)
        if (st, ep) == (stage, int(epoch)):
            if not inside:
                die()
            armed.append(True)

    loop._commit_stage = hook
    if inside:  # kill just before the rename that commits the stage's write
        target = {"metrics": "metrics.jsonl", "results": "results.json"}.get(
            stage, os.path.join("checkpoints", stage, epoch))
        for name in ("rename", "replace"):
            def patched(src, dst, *args, _real=getattr(os, name), **kwargs):
                if armed and os.fspath(dst).endswith(target):
                    die()
                return _real(src, dst, *args, **kwargs)
            setattr(os, name, patched)

from snnjax.configs import get_config
from snnjax.train import train

train(get_config("yinyang_multispike", overrides), out, log=print)
"""


def _env(cache_dir: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    # Later processes reuse the first one's compiled steps (keeps the test fast).
    env["JAX_COMPILATION_CACHE_DIR"] = str(cache_dir)
    env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    return env


def _run(out: Path, kill: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, str(out), kill, *OVERRIDES],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _killed(out: Path, kill: str, env) -> str:
    proc = _run(out, kill, env)
    assert proc.returncode == -9, (kill, proc.returncode, proc.stderr[-3000:])
    return proc.stdout


def _completed(out: Path, env) -> str:
    proc = _run(out, "", env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _checkpoints(run: Path) -> dict[str, dict[int, tuple[list[np.ndarray], dict]]]:
    """``{kind: {epoch: (state leaves, meta)}}`` of every checkpoint of a run."""
    cfg = get_config("yinyang_multispike", OVERRIDES)
    params = init_params(build_model(cfg), (5,), cfg.seed)
    like = TrainState(params, make_optimizer(cfg, 1).init(params), jax.numpy.int32(0))
    found = {}
    ckpts = RunCheckpoints(run / "checkpoints")
    try:
        for kind in ("last", "best"):
            steps = sorted(
                int(p.name) for p in (run / "checkpoints" / kind).iterdir() if p.name.isdigit()
            )
            found[kind] = {}
            for epoch in steps:
                state, meta = ckpts.restore(kind, like, epoch)
                found[kind][epoch] = ([np.asarray(x) for x in jax.tree.leaves(state)], meta)
    finally:
        ckpts.close()
    return found


def _leftovers(run: Path) -> list[str]:
    """Temporary files and directories (of an interrupted write) anywhere in the run."""
    return sorted(
        str(p.relative_to(run))
        for p in run.rglob("*")
        if p.name.endswith(".tmp") or "orbax-checkpoint-tmp" in p.name
    )


def _assert_same_run(ref: Path, run: Path) -> None:
    results_timing = (
        "total_wall_time_s",
        "wall_time_this_call_s",
        "train_samples_per_s",
        "compile_time_s",
        "checkpoints",
        "metrics",
    )
    a, b = (json.loads((d / "results.json").read_text()) for d in (ref, run))
    assert {k: v for k, v in a.items() if k not in results_timing} == {
        k: v for k, v in b.items() if k not in results_timing
    }
    assert Path(a["checkpoints"]["best"]).name == Path(b["checkpoints"]["best"]).name
    rows = [
        [
            {k: v for k, v in json.loads(line).items() if k not in TIMING_FIELDS}
            for line in (d / "metrics.jsonl").read_text().splitlines()
        ]
        for d in (ref, run)
    ]
    assert rows[0] == rows[1]
    ck_ref, ck_run = _checkpoints(ref), _checkpoints(run)
    for kind in ("last", "best"):
        assert sorted(ck_ref[kind]) == sorted(ck_run[kind]), kind
        for epoch, (leaves, meta) in ck_ref[kind].items():
            leaves_run, meta_run = ck_run[kind][epoch]
            assert meta == meta_run, (kind, epoch)
            for x, y in zip(leaves, leaves_run, strict=True):
                np.testing.assert_array_equal(x, y)
    assert _leftovers(run) == []
    assert (run / "config.json").read_text() == (ref / "config.json").read_text()


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return _env(tmp_path_factory.mktemp("jax-cache"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, env) -> Path:
    """An uninterrupted run."""
    ref = tmp_path_factory.mktemp("reference") / "run"
    _completed(ref, env)
    results = json.loads((ref / "results.json").read_text())
    assert results["best_epoch"] == 2  # the kill points below rely on best/1 and best/2
    return ref


def test_kill_between_last_and_best_then_resume(tmp_path, env, reference, capsys):
    """Issue 13: killed after last/2 is committed but before best/2 (the run's best epoch),
    then inside the save of last/3: the resume re-creates best/2, and the run ends as an
    uninterrupted one."""
    run = tmp_path / "run"
    _killed(run, "2:best", env)
    assert (run / "checkpoints" / "last" / "2").is_dir()
    assert not (run / "checkpoints" / "best" / "2").exists()
    # Before the resume, `eval --checkpoint best` does not pass off best/1 as the best.
    assert main(["eval", str(run), "--checkpoint", "best"]) == 2
    err = capsys.readouterr().err
    assert "checkpoints/best/2 is missing" in err
    assert "run the same snnjax train" in err
    lines = _killed(run, "3:last:rename", env)
    assert "re-creating" in lines
    assert "best/2 from last/2" in lines
    _completed(run, env)
    _assert_same_run(reference, run)


@pytest.mark.slow
def test_kill_at_every_stage_of_the_commit_then_resume(tmp_path, env, reference):
    """One run killed at each point of its commits in turn (each resume is killed at the
    next point), then resumed to the end, equals an uninterrupted run: results.json,
    metrics.jsonl, and every checkpoint's arrays and metadata."""
    run = tmp_path / "run"
    for kill in [
        "1:metrics:rename",  # inside the metrics.jsonl write
        "1:last",  # metrics written, no checkpoint yet
        "1:last:rename",  # inside Orbax's save of last/1
        "1:best",  # last/1 committed, best/1 not (issue 13)
        "1:best:rename",  # the resume re-creates best/1: killed inside that save
        "2:best:rename",  # epoch 2: inside the save of best/2
        "3:metrics",  # after the resume re-created best/2
        "3:last:rename",
        "3:results",  # every checkpoint written, results.json not
        "3:results:rename",  # inside the results.json write
    ]:
        _killed(run, kill, env)
    lines = _completed(run, env)
    assert "all 3 epochs already done" in lines
    _assert_same_run(reference, run)


# ------------------------------------------------------------------------ stuck states


def _tiny(*extra: str):
    return get_config("yinyang_multispike", [*OVERRIDES, *extra])


def test_deleted_last_checkpoints_resume_from_best(tmp_path):
    """``checkpoints/last`` deleted, ``best`` kept: the run resumes from best (the same
    state), re-creates last from it, and ends as an uninterrupted run (it used to stop at
    "Checkpoint for step 1 already exists")."""
    ref, run = tmp_path / "reference", tmp_path / "run"
    train(_tiny(), ref, log=lambda _msg: None)
    assert train(_tiny(), run, log=lambda _msg: None, stop_after=2) is None
    assert sorted(p.name for p in (run / "checkpoints" / "best").iterdir()) == ["2"]
    shutil.rmtree(run / "checkpoints" / "last")
    lines = []
    train(_tiny(), run, log=lines.append)
    assert any("resuming from best/2" in line for line in lines), lines
    assert any("resuming" in line and "after epoch 2" in line for line in lines)
    _assert_same_run(ref, run)


def test_failed_start_is_started_afresh_with_the_corrected_config(tmp_path, capsys):
    """A start that failed after writing config.json (here: a non-finite threshold) does
    not block the corrected command; the log says the directory is started afresh."""
    run = tmp_path / "run"
    tiny = [arg for o in OVERRIDES if not o.startswith("thetas") for arg in ("--set", o)]
    assert main(["train", "--out", str(run), *tiny, "--set", "thetas=nan,nan"]) == 2
    assert "theta" in capsys.readouterr().err
    left_behind = (run / "config.json").is_file()  # (config checks now fail before writing)
    assert main(["train", "--out", str(run), *tiny, "--set", "thetas=0.1,0.1"]) == 0
    captured = capsys.readouterr()
    if left_behind:
        assert "starting it afresh with this config" in captured.out
    assert RunDir(run).read_config() == _tiny()
    assert json.loads((run / "results.json").read_text())["epochs"] == 3


def test_stale_config_without_progress_is_replaced_but_a_run_with_progress_is_not(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config(_tiny("seed=5"))  # what a start that failed before epoch 1 leaves
    run.write_metrics([])
    lines = []
    assert train(_tiny("epochs=1"), run.path, log=lines.append)["epochs"] == 1
    assert any("failed before its first epoch" in line and "afresh" in line for line in lines), (
        lines
    )
    assert run.read_config() == _tiny("epochs=1")
    # This run has done an epoch: another config is refused, naming the difference.
    with pytest.raises(RunMismatchError, match="differs in: seed"):
        train(_tiny("seed=5"), run.path, log=lambda _msg: None)
    # A config.json that is not valid JSON, left by a failed start, is replaced as well.
    fresh = RunDir(tmp_path / "fresh")
    fresh.path.mkdir()
    fresh.config_path.write_text("{")
    assert train(_tiny("epochs=1"), fresh.path, log=lambda _msg: None)["epochs"] == 1


def test_out_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file", tmp_path / "file" / "run"):
        assert main(["train", "--out", str(out), "--epochs", "1"]) == 2
        err = capsys.readouterr().err
        assert "snnjax train: error:" in err
        assert f"{tmp_path / 'file'} is a file" in err
