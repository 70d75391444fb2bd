"""The ``snnjax`` command answers help, listings and argument errors without importing JAX
(issue 14: every call took 4-7 s because JAX, Flax and Optax were imported first)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Runs main(argv) in a fresh interpreter and prints the heavy modules it imported.
_PROBE = """
import json, sys
from snnjax.cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exit_:  # argparse's --help and usage errors
    code = exit_.code
heavy = sorted(m for m in ("jax", "jaxlib", "flax", "optax", "matplotlib") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}))
"""


def _probe(argv: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--help"], 0),
        ([], 2),
        (["train", "--help"], 0),
        (["tradeoffs", "--help"], 0),
        (["configs"], 0),
        (["train", "no_such_config"], 2),
        (["eval"], 2),
        (["train", "--backend", "no_such_backend"], 2),
        (["train", "yinyang_ttfs", "--set", "no_such_field=1"], 2),
        (["train", "yinyang_ttfs", "--set", "lr=abc"], 2),
        (["configs", "--show", "no_such_config"], 2),
    ],
)
def test_cli_answers_without_importing_jax(argv, code):
    result = _probe(argv)
    assert result["code"] == code
    assert result["heavy"] == [], f"snnjax {' '.join(argv)} imported {result['heavy']}"


def test_import_snnjax_is_lazy_and_complete():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, snnjax; assert 'jax' not in sys.modules; "
            "print(snnjax.lif_layer.__module__, snnjax.LIFParams.__module__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert proc.stdout.split() == ["snnjax.lif.layer", "snnjax.lif.params"]


def test_one_default_checkpoint_everywhere():
    import inspect

    from snnjax.cli import build_parser
    from snnjax.reports.tradeoffs import load_trained_run, tradeoff_report
    from snnjax.train.restore import CHECKPOINTS, DEFAULT_CHECKPOINT, evaluate_run, restore_run

    parser = build_parser()
    for argv in (["eval", "RUN"], ["tradeoffs", "RUN", "--out", "OUT"]):
        assert parser.parse_args(argv).checkpoint == DEFAULT_CHECKPOINT
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("eval", "tradeoffs"):
        flag = next(a for a in sub.choices[command]._actions if a.dest == "checkpoint")
        assert set(flag.choices) == set(CHECKPOINTS)
    for fn in (evaluate_run, restore_run, load_trained_run, tradeoff_report):
        assert inspect.signature(fn).parameters["checkpoint"].default == DEFAULT_CHECKPOINT


def test_tradeoffs_help_states_the_library_defaults():
    from snnjax.cli import build_parser
    from snnjax.reports import tradeoffs

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    helps = {a.dest: a.help for a in sub.choices["tradeoffs"]._actions}
    assert f"default: {tradeoffs.DEFAULT_NOISE_SEEDS};" in helps["noise_seeds"]
    assert f"{tradeoffs.FULL_NOISE_SEEDS} with --full" in helps["noise_seeds"]
    assert f"default: {tradeoffs.DEFAULT_ROBUSTNESS_SAMPLES};" in helps["robustness_samples"]
    assert f"{tradeoffs.FULL_NOISE_SEEDS} noise seeds" in helps["full"]
