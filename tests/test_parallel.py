"""Data-parallel training (snnjax.train.parallel) on 4 fake CPU devices.

XLA makes N host devices with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``, read
once when jax starts, so each check runs in a fresh Python subprocess that prints one JSON
line; the assertions are made here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

N_DEVICES = 4

# The one-device step and the 4-device step on the same batches, for a small Yin-Yang
# network of each loss, with and without the weight-gradient guard.
_EQUIVALENCE = """
import json, sys
import jax, jax.numpy as jnp, numpy as np
from snnjax.configs import get_config
from snnjax.train import (TrainState, build_model, data_mesh, init_params, make_eval_step,
                          make_optimizer, make_train_step, prepare_data, replicate,
                          shard_batch)

assert jax.device_count() == 4, jax.devices()
mesh = data_mesh(4)
report = {}
for case in sys.argv[1].split(","):
    name, _, guard = case.partition("+")
    extra = ["weight_grad_guard=1000"] if guard else []
    cfg = get_config(name, ["sizes=5,30,3", "batch_size=16", "train_subset=64",
                            "n_validation=32", "test_subset=32"] + extra)
    data = prepare_data(cfg)
    model = build_model(cfg)
    opt = make_optimizer(cfg, 4)
    params = init_params(model, data.input_shape, 0)
    one = make_train_step(model, cfg, opt)
    par = make_train_step(model, cfg, opt, mesh=mesh)
    s1 = TrainState(params, opt.init(params), jnp.int32(0))
    s4 = replicate(s1, mesh)
    rows = []
    for k in range(3):
        idx = np.arange(16 * k, 16 * (k + 1))
        t, y = data.train.times[idx], data.train.labels[idx]
        s1, m1 = one(s1, t, y)
        # host arrays on even steps, pre-sharded global arrays on odd ones
        if k % 2:
            s4, m4 = par(s4, shard_batch(t, mesh), shard_batch(y, mesh))
        else:
            s4, m4 = par(s4, t, y)
        p1, p4 = jax.tree.leaves(s1.params), jax.tree.leaves(s4.params)
        rows.append({
            "param_max_abs_diff": max(float(jnp.max(jnp.abs(a - b))) for a, b in zip(p1, p4)),
            "param_max_abs": max(float(jnp.max(jnp.abs(a))) for a in p1),
            "params_bitwise": all(bool(jnp.array_equal(a, b)) for a, b in zip(p1, p4)),
            "metrics_1": {k: np.asarray(v).tolist() for k, v in m1.items()},
            "metrics_4": {k: np.asarray(v).tolist() for k, v in m4.items()},
            "replicated": all(a.sharding.is_fully_replicated and len(a.sharding.device_set) == 4
                              for a in p4),
        })
    report[case] = {"steps": rows}
    if sys.argv[2] == "eval":
        ev1 = make_eval_step(model, cfg)
        ev4 = make_eval_step(model, cfg, mesh=mesh)
        t, y = data.test.times[:32], data.test.labels[:32]
        mask = np.arange(32) < 29
        e1 = jax.device_get(ev1(s1.params, t, y, mask))
        e4 = jax.device_get(ev4(s4.params, t, y, mask))
        report[case].update({
            "eval_1": {k: np.asarray(v).tolist() for k, v in e1.items() if k != "active"},
            "eval_4": {k: np.asarray(v).tolist() for k, v in e4.items() if k != "active"},
            "active_equal": all(bool(np.array_equal(a, b)) for a, b in zip(e1["active"],
                                                                           e4["active"])),
        })
print(json.dumps(report))
"""

# Errors for a batch that does not split over the devices; and train() end to end.
_TRAIN = """
import json, sys, tempfile
import jax, jax.numpy as jnp, numpy as np
from snnjax.configs import get_config
from snnjax.train import (TrainState, build_model, data_mesh, init_params, make_optimizer,
                          make_train_step, train)

report = {}
cfg = get_config("yinyang_ttfs", ["sizes=5,30,3", "batch_size=10", "train_subset=40",
                                  "n_validation=40", "test_subset=40", "epochs=1"])
mesh = data_mesh(4)
model = build_model(cfg)
opt = make_optimizer(cfg, 4)
params = init_params(model, (5,), 0)
step = make_train_step(model, cfg, opt, mesh=mesh)
try:
    step(TrainState(params, opt.init(params), jnp.int32(0)),
         np.full((10, 5, 1), np.inf, np.float32), np.zeros(10, np.int32))
except ValueError as err:
    report["step_error"] = str(err)
with tempfile.TemporaryDirectory() as tmp:
    try:
        train(cfg, tmp + "/bad", quiet=True, devices=4)
    except ValueError as err:
        report["train_error"] = str(err)
    import os
    report["bad_dir_written"] = os.path.exists(tmp + "/bad")
    try:
        data_mesh(5)
    except ValueError as err:
        report["mesh_error"] = str(err)
    good = get_config("yinyang_ttfs", ["sizes=5,30,3", "batch_size=8", "train_subset=48",
                                       "n_validation=40", "test_subset=40", "epochs=2",
                                       "eval_batch_size=30"])
    lines = []
    r4 = train(good, tmp + "/dp", devices=4, log=lines.append)
    r1 = train(good, tmp + "/one")
    report["r4"] = {k: r4[k] for k in ("test_accuracy", "final_train_loss", "device",
                                       "spikes_per_sample", "silent_neurons")}
    report["r1"] = {k: r1[k] for k in ("test_accuracy", "final_train_loss", "device",
                                       "spikes_per_sample", "silent_neurons")}
    report["log"] = lines
print(json.dumps(report))
"""

# Many queued steps on 2 CPU devices: without one_step_in_flight, XLA:CPU's all-reduce
# deadlocked in 3 of 3 runs of this (aborting after its 40 s rendezvous timeout).
_QUEUED = """
import json
import jax, jax.numpy as jnp, numpy as np
from snnjax.configs import get_config
from snnjax.train import (TrainState, build_model, data_mesh, init_params, make_optimizer,
                          make_train_step, replicate)

cfg = get_config("yinyang_ttfs", ["batch_size=64"])
mesh = data_mesh(2)
model = build_model(cfg)
opt = make_optimizer(cfg, 100)
params = init_params(model, (5,), 0)
step = make_train_step(model, cfg, opt, mesh=mesh)
state = replicate(TrainState(params, opt.init(params), jnp.int32(0)), mesh)
times = np.random.default_rng(0).uniform(0, 0.2, (64, 5, 1)).astype(np.float32)
labels = np.zeros(64, np.int32)
for _ in range(300):
    state, m = step(state, times, labels)
print(json.dumps({"steps": int(jax.device_get(state.step))}))
"""


def _run(script: str, kernel: str, *args: str, devices: int = N_DEVICES) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={devices}"
    ).strip()
    env["SNNJAX_KERNEL"] = kernel
    env.setdefault("JAX_PLATFORMS", "cpu")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The pure-JAX kernel compiles slowly on CPU: one case (multi-spike, the longer code path),
# train steps only.
@pytest.mark.parametrize(
    ("kernel", "cases", "evaluate"),
    [
        ("cpu", "yinyang_multispike,yinyang_ttfs", "eval"),
        ("cpu", "yinyang_multispike+guard", "no-eval"),
        ("xla", "yinyang_multispike", "no-eval"),
    ],
)
def test_four_devices_equal_one_device(kernel, cases, evaluate):
    report = _run(_EQUIVALENCE, kernel, cases, evaluate)
    assert sorted(report) == sorted(cases.split(","))
    for case, res in report.items():
        for k, row in enumerate(res["steps"]):
            assert row["replicated"], case
            m1, m4 = row["metrics_1"], row["metrics_4"]
            assert set(m1) == set(m4)
            # Forward passes are per sample: counts agree exactly.
            for key in (
                "n",
                "correct",
                "silent_outputs",
                "label_silent",
                "loss_finite",
                "spikes",
                "dropped",
                "overflow",
                "nonfinite_grad",
                "guarded_columns",
            ):
                assert m1[key] == m4[key], (case, k, key)
            # Sums of float losses: only the order of additions differs.
            assert m4["loss_sum"] == pytest.approx(m1["loss_sum"], rel=1e-5, abs=1e-6)
            # Parameters: the gradient mean differs in rounding only, relative to the
            # weights' scale (after the first step: 1.4e-6 on weights of ~8 with jax 0.12;
            # often bitwise equal with jax 0.10, where Adam's first step is nearly sign(g)).
            tol = 1e-6 * max(row["param_max_abs"], 1.0) * (k + 1)
            assert row["param_max_abs_diff"] <= tol, (case, k, row["param_max_abs_diff"])
        if evaluate != "eval":
            continue
        e1, e4 = res["eval_1"], res["eval_4"]
        for key in e1:
            if key == "loss_sum":
                assert e4[key] == pytest.approx(e1[key], rel=1e-5)
            else:
                assert e4[key] == e1[key], (case, key)
        assert e1["n"] == 29
        assert res["active_equal"]


def test_many_queued_steps_do_not_deadlock():
    assert _run(_QUEUED, "cpu", devices=2) == {"steps": 300}


def test_indivisible_batch_and_train_loop():
    report = _run(_TRAIN, "cpu")
    for key in ("step_error", "train_error"):
        assert "not divisible by the 4 devices" in report[key], report[key]
    assert "batch_size 10" in report["train_error"]
    assert not report["bad_dir_written"]  # the error comes before anything is written
    assert "asked for 5 devices" in report["mesh_error"]
    r1, r4 = report["r1"], report["r4"]
    assert r4["device"] == "cpu:cpu (x4, data-parallel mesh data=4)"
    assert r1["device"] == "cpu:cpu (x1 of 4)"
    assert any("data-parallel mesh data=4" in line for line in report["log"])
    # Two epochs of 6 steps: same accuracy and (to rounding) loss and spike counts.
    assert r4["test_accuracy"] == r1["test_accuracy"]
    assert r4["final_train_loss"] == pytest.approx(r1["final_train_loss"], rel=1e-4)
    for layer, v in r1["spikes_per_sample"].items():
        assert r4["spikes_per_sample"][layer] == pytest.approx(v, rel=1e-4)
    assert r4["silent_neurons"] == r1["silent_neurons"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_process(tmp_path):
    """``snnjax train --distributed``: 2 processes x 2 CPU devices (Gloo collectives) give
    the one-device run's results; only process 0 writes the run's JSON files."""
    from snnjax.cli import main

    args = [
        "train",
        "yinyang_ttfs",
        "--epochs",
        "2",
        "--quiet",
        "--set",
        "sizes=5,30,3",
        "--set",
        "batch_size=8",
        "--set",
        "train_subset=48",
        "--set",
        "n_validation=40",
        "--set",
        "test_subset=40",
        "--set",
        "eval_batch_size=30",
    ]
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu"
    )
    port = _free_port()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snnjax.cli",
                *args,
                "--out",
                str(tmp_path / "mp"),
                "--devices",
                "all",
                "--distributed",
                "--coordinator",
                f"localhost:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    mp = json.loads((tmp_path / "mp" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert mp["device"] == "cpu:cpu (x4, data-parallel mesh data=4, 2 processes)"
    assert mp["test_accuracy"] == one["test_accuracy"]
    assert mp["final_train_loss"] == pytest.approx(one["final_train_loss"], rel=1e-4)
    assert mp["spikes_per_sample"] == pytest.approx(one["spikes_per_sample"], rel=1e-4)
