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
    "bench_bound",
    "bench_device",
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


@pytest.mark.standard_promotion  # the train step: optax's Adam promotes implicitly
def test_bench_device_quick_times_every_backend_here(tmp_path):
    """The device benchmark in its smallest mode (CPU here): every backend of the platform
    on both layers and the train step, and the Markdown table."""
    from helpers import shared_data_dir

    from benchmarks import bench_device

    mnist = shared_data_dir() / "mnist"
    if not mnist.is_dir():
        pytest.skip("MNIST IDX files not available")
    out = tmp_path / "bench_device.md"
    result = bench_device.main(["--quick", "--data-dir", str(mnist), "--markdown", str(out)])
    assert result["backends"] == bench_device.platform_backends()
    assert {r["backend"] for r in result["train"]} == set(result["backends"])
    assert len(result["layers"]) == 2 * len(result["backends"])
    assert all(r["ms"] > 0 for r in result["layers"])
    assert all(r["samples_per_s"] > 0 for r in result["train"])
    text = out.read_text()
    assert text.startswith("Measured ")
    assert "`loop`" in text


def test_bench_device_fails_clearly_without_data(tmp_path):
    from benchmarks import bench_device

    with pytest.raises(SystemExit, match=r"MNIST IDX files are needed.*--data-dir"):
        bench_device.main(["--quick", "--data-dir", str(tmp_path / "nowhere")])
