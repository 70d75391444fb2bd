"""``snnjax runs DIR``: every run under a folder with its epochs, accuracy and status."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from snnjax.cli import main
from snnjax.configs import get_config
from snnjax.train import RunDir, train
from snnjax.train.listing import STATUSES, find_runs, format_runs, summarise_run

TINY = ["sizes=5,8,3", "max_spikes=3,3", "train_subset=100", "n_validation=50", "test_subset=50"]


def _silent(_msg: str) -> None:
    pass


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``root/`` with a finished, a resumable (1 of 2 epochs), a not-started, a broken and a
    nested run."""
    root = tmp_path_factory.mktemp("runs")
    config = get_config("yinyang_multispike", [*TINY, "epochs=2"])
    train(config, root / "done", quiet=True, progress=False, log=_silent)
    train(config, root / "half", quiet=True, progress=False, log=_silent, stop_after=1)
    (root / "fresh").mkdir()
    RunDir(root / "fresh").write_config(config)
    shutil.copytree(root / "done", root / "broken")
    lines = (root / "broken" / "metrics.jsonl").read_text().splitlines()
    lines[0] = lines[0][: len(lines[0]) // 2]  # a damaged line before the last one
    (root / "broken" / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    shutil.copytree(root / "done", root / "group" / "seed1")
    (root / "not_a_run").mkdir()
    return root


def test_statuses_epochs_and_accuracy(runs):
    found = find_runs(runs)
    assert [p.relative_to(runs).as_posix() for p in found] == [
        "broken",
        "done",
        "fresh",
        "group/seed1",
        "half",
    ]
    by_name = {p.relative_to(runs).as_posix(): summarise_run(p) for p in found}
    assert {k: s.status for k, s in by_name.items()} == {
        "broken": "broken",
        "done": "finished",
        "fresh": "not started",
        "group/seed1": "finished",
        "half": "resumable",
    }
    assert set(STATUSES) >= {s.status for s in by_name.values()}
    done = by_name["done"]
    results = RunDir(runs / "done").read_results()
    assert (done.config, done.seed, done.epochs_done, done.epochs) == (
        "yinyang_multispike",
        0,
        2,
        2,
    )
    assert done.best_epoch == results["best_epoch"]
    assert done.test_accuracy == results["best_test_accuracy"]
    assert (by_name["half"].epochs_done, by_name["half"].epochs) == (1, 2)
    assert by_name["fresh"].epochs_done == 0
    assert "metrics.jsonl" in by_name["broken"].problem
    assert "line 1" in by_name["broken"].problem


def test_table_and_cli(runs, capsys):
    text = format_runs([summarise_run(p) for p in find_runs(runs)], runs)
    header, *rows = text.splitlines()
    assert header.split()[:3] == ["run", "config", "seed"]
    assert any(r.startswith("half ") and r.endswith("resumable") for r in rows)
    assert any(r.startswith("broken: ") and "metrics.jsonl" in r for r in rows)

    assert main(["runs", str(runs)]) == 0
    assert capsys.readouterr().out.strip() == text
    assert main(["runs", str(runs), "--json"]) == 0
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["status"] for o in objects] == [
        "broken",
        "finished",
        "not started",
        "finished",
        "resumable",
    ]
    assert main(["runs", str(runs / "not_a_run")]) == 0
    assert "no runs under" in capsys.readouterr().out
    assert main(["runs", str(runs / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_listing_imports_no_jax(runs):
    code = (
        "import sys; from snnjax.cli import main; main(['runs', sys.argv[1]]); "
        "print('jax' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(runs)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.splitlines()[-1] == "False"
