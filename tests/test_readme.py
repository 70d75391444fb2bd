"""README.md's commands work as written (issue 14): the two set-up commands are what CI runs,
and "A first tour" runs in order on a fresh directory, ``eval`` and ``tradeoffs`` of the
trained run included, without repeating ``--data-dir``."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent  # the virtualenv's bin/: where `snnjax` is installed


def _tour() -> list[str]:
    """The tour's commands, in order (comments stripped)."""
    block = README.split("<!-- tour:begin -->", 1)[1].split("<!-- tour:end -->", 1)[0]
    body = block.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in body.strip().splitlines()]


def test_two_setup_commands_are_what_ci_runs():
    section = README.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    commands = [
        line
        for line in section.split("```bash", 1)[1].split("```", 1)[0].splitlines()
        if line and not line.startswith("#")
    ]
    assert len(commands) == 2
    install, tests = commands
    assert 'pip install -e ".[test,docs]"' in install
    assert install.endswith(".venv/bin/snnjax train")
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci
    assert '-m pip install --quiet -e ".[test,docs]"' in ci


def test_tour_starts_by_activating_the_venv():
    tour = _tour()
    assert tour[0] == "source .venv/bin/activate"
    assert all(c.startswith("snnjax ") for c in tour[1:])
    assert any(c.startswith("snnjax eval ") for c in tour)
    assert any(c.startswith("snnjax tradeoffs ") for c in tour)
    for c in tour:  # eval and tradeoffs find the data themselves
        if c.startswith(("snnjax eval", "snnjax tradeoffs")):
            assert "--data-dir" not in c


@pytest.mark.slow
def test_tour_runs_in_order(tmp_path):
    data = shared_data_dir()
    if not (data / "mnist").is_dir():
        pytest.skip(f"no MNIST files in {data}")
    work = tmp_path / "project"
    work.mkdir()
    (tmp_path / "shared").symlink_to(data.parent)  # the README's ../shared/data
    if not (BIN / "snnjax").exists():
        pytest.skip(f"the snnjax command is not installed in {BIN}")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SNNJAX_DATA_DIR", None)  # the run must remember its data by itself
    outputs = {}
    for command in _tour()[1:]:  # `source .venv/bin/activate` = BIN first on the PATH
        proc = subprocess.run(
            shlex.split(command),
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
        outputs[command.split()[1]] = proc.stdout
    assert "usage: snnjax" in outputs["--help"]
    assert re.search(r"accuracy \d+\.\d+%", outputs["eval"])
    assert "best checkpoint" in outputs["eval"]
    assert (work / "runs" / "tour-report" / "report.md").is_file()
    listing = outputs["runs"]
    assert re.search(r"tour-mnist\s+mnist_multispike\s+0\s+1/1 .* finished", listing)
