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


def test_command_line_names_the_thread_setting(monkeypatch):
    """A table measured with OMP_NUM_THREADS set says so in its command line."""
    from benchmarks import benchutil

    class _Main:
        __spec__ = importlib.util.find_spec("benchmarks.bench_conv")

    monkeypatch.setitem(sys.modules, "__main__", _Main)
    monkeypatch.setattr(sys, "argv", ["bench_conv.py", "--rounds", "5"])
    monkeypatch.delenv("SNNJAX_KERNEL", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert (
        benchutil.command_line() == "OMP_NUM_THREADS=1 python -m benchmarks.bench_conv --rounds 5"
    )
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert benchutil.command_line() == "python -m benchmarks.bench_conv --rounds 5"


def test_bench_conv_tables_give_each_step_its_ratio_to_the_cnn():
    from benchmarks import bench_conv

    rows = [
        {
            "layer": "0 LIFConv",
            "in": "(20, 28, 28, 1, 1), 2802 spikes",
            "fwd": (5.0, 9.5),
            "fwd_bwd": (7.5, 14.0),
        }
    ]
    assert bench_conv.layer_table(rows)[2] == (
        "| 0 LIFConv | (20, 28, 28, 1, 1), 2802 spikes | 5.0 / 9.5 | 7.5 / 14.0 |"
    )
    steps = bench_conv.step_table({"snn": (45.0, 80.0), "CNN": (4.5, 6.4)}, "CNN")
    assert steps[2] == "| snn | 45.0 | 80.0 | **10.0×** | 12.5× |"
    assert steps[3] == "| CNN | 4.5 | 6.4 | **1.0×** | 1.0× |"


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


def test_cost_model_counts_every_loop_trip():
    """The trip counter of benchmarks/cost_model.py: a while loop of 7 trips with a scan of
    3 inside is 7 + 21 sequential steps, and the results are the real ones."""
    import jax
    import jax.numpy as jnp

    from benchmarks import cost_model

    def fn(x):
        def body(c):
            i, v = c
            v, _ = jax.lax.scan(lambda a, _: (a * 2.0, None), v, None, length=3)
            return i + 1, v

        return jax.lax.while_loop(lambda c: c[0] < 7, body, (jnp.int32(0), x))[1]

    closed = jax.make_jaxpr(fn)(jnp.float32(1.0))
    tally = cost_model.Tally()
    (out,) = cost_model._eval(closed, [jnp.float32(1.0)], tally)
    assert float(out) == 2.0**21
    assert sorted(tally.trips.values()) == [7, 21]
    result = cost_model.analyse(fn, jnp.float32(1.0))
    assert result["steps"] == 28
    assert result["low_ms"] <= result["high_ms"]


def test_cost_model_counts_the_loop_backend_events():
    """The loop backend's forward runs one outer trip per input event of the busiest
    sample (and the backward as many)."""
    import jax
    import jax.numpy as jnp

    import snnjax
    from benchmarks import cost_model

    times = jnp.array([[[0.01], [0.02], [jnp.inf]], [[0.03], [jnp.inf], [jnp.inf]]])
    w = jnp.ones((3, 2), jnp.float32)

    def fn(w, t):
        out = snnjax.lif_layer(
            t,
            w,
            snnjax.LIFParams(tau_syn=0.13, theta=10.0),
            max_spikes=3,
            t_max=0.2,
            backend="loop",
        )
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times, 0.0))

    grad = jax.value_and_grad(fn, argnums=(0, 1))
    closed = jax.make_jaxpr(grad)(w, times)
    assert not cost_model.has_foreign_calls(closed)
    result = cost_model.analyse(grad, w, times)
    # forward and backward: one trip per event (2), no spike (0 inner trips); the spike
    # errors over the K = 3 slots are a parallel scan (no trips)
    assert sorted(result["loops"]) == [0, 0, 2, 2]
