"""The benchmark scripts (``benchmarks/``) import as a package and parse their arguments.

They are too slow to run in the tests; ``--help`` checks that each one imports (no
``sys.path`` edits needed) and builds its parser.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest

SCRIPTS = (
    "bench_conv",
    "bench_layer",
    "bench_parallel",
    "bench_report",
    "bench_robustness",
    "bench_train",
    "bench_vmap",
)


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_imports_and_parses_help(name, capsys):
    module = importlib.import_module(f"benchmarks.{name}")
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_command_line_names_the_module(monkeypatch):
    from benchmarks import benchutil

    class _Main:
        __spec__ = importlib.util.find_spec("benchmarks.bench_layer")

    monkeypatch.setitem(sys.modules, "__main__", _Main)
    monkeypatch.setattr(sys, "argv", ["/abs/benchmarks/bench_layer.py", "--rounds", "3"])
    assert benchutil.command_line().endswith("python -m benchmarks.bench_layer --rounds 3")
