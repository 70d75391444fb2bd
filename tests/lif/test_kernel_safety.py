"""Memory and integer safety of the event kernels, and what they cannot represent.

* Spike counts saturate at ``2**31 - 1`` (the compiled kernel used to wrap its int32 counter
  and write at a negative index: signal 11); tested for real in a subprocess (slow), and
  fast with a kernel built with a low ``SNNJAX_SPIKE_COUNT_LIMIT`` and the loop backend's
  ``count_limit``.
* Malformed buffers passed to the custom calls are an error, never an out-of-bounds access.
* Crossings the dtype cannot resolve are counted (``n_unresolved``, also in ``n_dropped``)
  the same way by every backend, instead of answering "no spike".
* Every backend rejects float16/bfloat16 layers with the same TypeError.
* Zero-size dimensions give empty, correctly shaped outputs and zero gradients.
* The compiled kernel runs its tests under AddressSanitizer + UBSan (slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import BACKENDS, float64, random_layer, run_layer

import snnjax
from snnjax.lif.backends import ffi, loop
from snnjax.lif.events import Events

REPO = Path(__file__).resolve().parents[2]
INT32_MAX = 2**31 - 1
needs_ffi = pytest.mark.skipif("ffi" not in BACKENDS, reason="compiled CPU kernel not built here")


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 600):
    """Run ``code`` in a fresh interpreter (a crash fails the test, not pytest)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
    )


def single_input(weight: float, dtype, t_max: float, max_spikes: int = 2, backend: str = "ffi"):
    """One neuron driven by one input spike at t = 0 (theta = 1, tau_syn = 0.13 s)."""
    return snnjax.lif_layer(
        jnp.zeros((1, 1, 1), dtype),
        jnp.full((1, 1), weight, dtype),
        snnjax.LIFParams(0.13, 1.0),
        max_spikes=max_spikes,
        t_max=t_max,
        backend=backend,
    )


# --------------------------------------------------------------------------------------
# spike counts saturate
# --------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_ffi
def test_more_than_2_31_spikes_saturate_instead_of_crashing():
    """float64, weight / theta = 1.7e10: ~2.2e9 spikes in one interval (~1 min of work).
    The int32 counter used to wrap and the kernel wrote at a negative index (signal 11)."""
    proc = run_python(
        """
        import json, jax, jax.numpy as jnp, snnjax
        jax.config.update("jax_enable_x64", True)
        out = snnjax.lif_layer(jnp.zeros((1, 1, 1)), jnp.full((1, 1), 1.7e10),
                               snnjax.LIFParams(0.13, 1.0), max_spikes=2, t_max=1.0,
                               backend="ffi")
        print(json.dumps({"dropped": int(out.n_dropped[0, 0]),
                          "unresolved": int(out.n_unresolved[0, 0]),
                          "times": [float(t) for t in out.times[0, 0]]}))
        """
    )
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["dropped"] == INT32_MAX - 2  # saturated count, minus the two stored
    assert got["unresolved"] == 0
    np.testing.assert_allclose(got["times"], [1 / 1.7e10, 2 / 1.7e10], rtol=1e-6)


def test_loop_backend_count_saturates():
    """The loop backend stops a neuron at ``count_limit`` (2**31 - 1 by default): the count
    never wraps, the buffer holds the first spikes."""
    with float64():
        events = Events(jnp.zeros((1, 1)), jnp.zeros((1, 1), jnp.int32))
        params = jax.tree_util.tree_map(jnp.asarray, snnjax.LIFParams(0.13, 1.0))
        w = jnp.full((1, 1), 1e4)
        full = loop.forward_events(events, w, params, jnp.asarray(0.01), 3)
        capped = loop.forward_events(events, w, params, jnp.asarray(0.01), 3, count_limit=20)
        assert int(full.n_spikes[0, 0]) > 50
        assert int(capped.n_spikes[0, 0]) == 20
        np.testing.assert_array_equal(capped.times, full.times)
        assert int(capped.n_unresolved[0, 0]) == 0
    assert loop.SPIKE_COUNT_LIMIT == INT32_MAX


LIMITED_KERNEL = """
    import json, jax, jax.numpy as jnp, numpy as np, snnjax
    from snnjax.lif.backends import ffi, loop
    from snnjax.lif.events import Events
    jax.config.update("jax_enable_x64", True)
    ffi.load(ffi.build(ffi.DEFAULT_FLAGS + ("-DSNNJAX_SPIKE_COUNT_LIMIT=1000",), {cache!r}))
    events = Events(jnp.array([[0.0, 0.05]]), jnp.array([[0, 0]], jnp.int32))
    params = jax.tree_util.tree_map(jnp.asarray, snnjax.LIFParams(0.13, 1.0))
    w = jnp.full((1, 3), 1e6)
    got = ffi.forward(events, w, params, jnp.asarray(1.0), 4)
    want = loop.forward_events(events, w, params, jnp.asarray(1.0), 4, count_limit=1000)
    np.testing.assert_allclose(got.times, want.times, rtol=1e-12)
    print(json.dumps({{"ffi": got.n_spikes.tolist(), "loop": want.n_spikes.tolist()}}))
"""


@needs_ffi
def test_compiled_count_limit_matches_loop(tmp_path):
    """A kernel built with a low ``SNNJAX_SPIKE_COUNT_LIMIT`` saturates like the loop."""
    proc = run_python(LIMITED_KERNEL.format(cache=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"ffi": [[1000] * 3], "loop": [[1000] * 3]}


# --------------------------------------------------------------------------------------
# malformed buffers: an error, never an out-of-bounds access
# --------------------------------------------------------------------------------------


def _ffi_forward(source):
    events = Events(jnp.array([[0.0, 0.01]]), jnp.asarray(source, jnp.int32))
    params = jax.tree_util.tree_map(jnp.asarray, snnjax.LIFParams(0.13, 1.0))
    return ffi.forward(events, jnp.full((2, 3), 30.0), params, jnp.asarray(1.0), 2)


@needs_ffi
@pytest.mark.parametrize("source", [[[0, 2]], [[-1, 0]], [[0, 1 << 30]]])
def test_event_source_out_of_range_is_an_error(source):
    assert np.isfinite(_ffi_forward([[0, 1]]).times).any()
    with pytest.raises(Exception, match="event source is not a weight row"):
        jax.block_until_ready(_ffi_forward(source))


@needs_ffi
@pytest.mark.parametrize("index", [2, -5, 1 << 30])
def test_backward_event_index_out_of_range_is_an_error(index):
    events = Events(jnp.array([[0.0, 0.01]]), jnp.array([[0, 1]], jnp.int32))
    params = jax.tree_util.tree_map(jnp.asarray, snnjax.LIFParams(0.13, 1.0))
    w = jnp.full((2, 3), 30.0)
    fw = ffi.forward(events, w, params, jnp.asarray(1.0), 2)
    assert int(fw.n_spikes[0, 0]) >= 1
    cot = jnp.ones_like(fw.times)
    jax.block_until_ready(ffi.backward(events, w, params, fw, cot))
    bad = fw._replace(event_index=fw.event_index.at[0, 0, 0].set(index))
    with pytest.raises(Exception, match="event index is not an event"):
        jax.block_until_ready(ffi.backward(events, w, params, bad, cot))


@needs_ffi
def test_scatter_slot_out_of_range_is_an_error():
    d = jnp.ones((1, 2))
    ok = ffi._scatter_call(d, jnp.array([[1, 0]], jnp.int32), (1, 2, 1))
    np.testing.assert_array_equal(ok, [[[1.0], [1.0]]])
    with pytest.raises(Exception, match="slot is out of range"):
        jax.block_until_ready(ffi._scatter_call(d, jnp.array([[2, 0]], jnp.int32), (1, 2, 1)))


# --------------------------------------------------------------------------------------
# crossings the dtype cannot resolve
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_unresolvable_crossing_is_reported(backend):
    """weight / theta = 5e8: float64 fires every ~2 ns; float32 cannot place the first
    crossing (it rounds to the input time) and used to answer "silent", n_dropped = 0."""
    with float64():
        exact = single_input(5e8, jnp.float64, 1e-7, backend=backend)
        np.testing.assert_allclose(exact.times[0, 0], [2e-9, 4e-9], rtol=1e-6)
        assert int(exact.n_unresolved[0, 0]) == 0
    out = single_input(5e8, jnp.float32, 1e-7, backend=backend)
    assert not np.isfinite(out.times).any()
    assert int(out.n_unresolved[0, 0]) == 1
    assert int(out.n_dropped[0, 0]) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_float32_crossing_after_a_spike_that_cannot_be_resolved_is_reported(backend):
    """weight / theta = 5e7: the first spike is placed, the next one rounds onto it."""
    out = single_input(5e7, jnp.float32, 1e-6, backend=backend)
    assert np.isfinite(out.times[0, 0, 0])
    assert not np.isfinite(out.times[0, 0, 1])
    assert int(out.n_unresolved[0, 0]) == 1
    assert int(out.n_dropped[0, 0]) == 1


@pytest.mark.parametrize("ratio", [1e5, 1e6, 1e7, 3e7, 5e7, 1e8, 1e9])
def test_backends_agree_on_unresolved_crossings(ratio):
    """Same detection everywhere: float32, growing drive, both backends (t_max short
    enough for the loop backend to finish quickly)."""
    outs = [single_input(ratio, jnp.float32, 300.0 / ratio, 4, b) for b in BACKENDS]
    for out in outs[1:]:
        np.testing.assert_array_equal(out.n_unresolved, outs[0].n_unresolved)
        np.testing.assert_array_equal(out.n_dropped, outs[0].n_dropped)
        np.testing.assert_array_equal(np.isfinite(out.times), np.isfinite(outs[0].times))
    # (below ~5e7 float32 resolves every crossing; above, it cannot)
    assert int(outs[0].n_unresolved[0, 0]) == (1 if ratio >= 5e7 else 0)


def test_well_conditioned_layers_have_no_unresolved_crossings():
    """No false alarms: random layers (the oracle tests' generator, many multi-spike
    neurons) in float32 and float64, every backend. (The oracle tests also compare
    ``n_dropped``, which includes ``n_unresolved``, with the float64 oracle.)"""
    rng = np.random.default_rng(3)
    layers = [random_layer(rng, batch=8) for _ in range(12)]
    n_spikes = 0
    for backend in BACKENDS:
        for x64 in (False, True):
            with jax.enable_x64(x64):
                for lay in layers:
                    out = run_layer(lay, 8, np.float64 if x64 else np.float32, backend=backend)
                    np.testing.assert_array_equal(out.n_unresolved, 0)
                    n_spikes += np.isfinite(out.times).sum()
    assert n_spikes > 1000


# --------------------------------------------------------------------------------------
# float16 / bfloat16: one behaviour for every backend
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [*BACKENDS, "auto"])
@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_is_rejected_by_every_backend(backend, dtype):
    t = jnp.zeros((2, 3, 1), dtype)
    w = jnp.ones((3, 4), dtype)
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=f"float32 or float64, got {name}.*astype"):
        snnjax.lif_layer(t, w, snnjax.LIFParams(), max_spikes=2, t_max=1.0, backend=backend)
    with pytest.raises(TypeError, match=f"got {name}"):
        jax.jit(
            lambda t, w: snnjax.lif_layer(
                t, w, snnjax.LIFParams(), max_spikes=2, t_max=1.0, backend=backend
            )
        )(t, w)


def test_half_precision_is_rejected_through_the_modules():
    dense = snnjax.nn.LIFDense(features=3, max_spikes=2, param_dtype=jnp.float16)
    x = jnp.zeros((2, 4, 1), jnp.float16)
    with pytest.raises(TypeError, match="float32 or float64, got float16"):
        dense.init(jax.random.key(0), x)


# --------------------------------------------------------------------------------------
# zero-size dimensions
# --------------------------------------------------------------------------------------

ZERO_SHAPES = [  # (batch, n_in, K_in, n_out)
    (0, 3, 2, 4),
    (2, 0, 2, 4),
    (2, 3, 0, 4),
    (2, 3, 2, 0),
    (0, 0, 0, 0),
]


@pytest.mark.parametrize("shape", ZERO_SHAPES)
def test_zero_size_dimensions(backend, shape):
    batch, n_in, k_in, n_out = shape
    t = jnp.full((batch, n_in, k_in), 0.01)
    w = jnp.full((n_in, n_out), 5.0)

    def loss(t, w):
        out = snnjax.lif_layer(t, w, snnjax.LIFParams(), max_spikes=3, t_max=1.0, backend=backend)
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times, 0.0)), out

    (value, out), (g_t, g_w) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(t, w)
    assert out.times.shape == (batch, n_out, 3)
    assert out.n_dropped.shape == out.n_unresolved.shape == (batch, n_out)
    assert out.n_input_overflow.shape == (batch,)
    assert not np.isfinite(out.times).any()
    assert float(value) == 0.0
    assert g_t.shape == t.shape
    assert g_w.shape == w.shape
    np.testing.assert_array_equal(g_t, 0.0)
    np.testing.assert_array_equal(g_w, 0.0)


@pytest.mark.parametrize("shape", [(0, 4, 1), (2, 0, 1), (2, 4, 0)])
def test_zero_size_through_lif_dense(backend, shape):
    dense = snnjax.nn.LIFDense(features=3, max_spikes=2, backend=backend)
    x = jnp.full(shape, 0.01)
    variables = dense.init(jax.random.key(0), x)
    out = dense.apply(variables, x)
    assert out.times.shape == (shape[0], 3, 2)
    grads = jax.grad(
        lambda v: jnp.sum(jnp.where(jnp.isfinite(o := dense.apply(v, x).times), o, 0.0))
    )(variables)
    np.testing.assert_array_equal(grads["params"]["kernel"], 0.0)


@pytest.mark.parametrize("shape", [(0, 5, 5, 2, 1), (2, 5, 5, 0, 1), (2, 5, 5, 2, 0)])
def test_zero_size_through_lif_conv(backend, shape):
    conv = snnjax.nn.LIFConv(features=3, kernel_size=(3, 3), max_spikes=2, backend=backend)
    x = jnp.full(shape, 0.01)
    variables = conv.init(jax.random.key(0), x)
    out = conv.apply(variables, x)
    assert out.times.shape == (shape[0], 3, 3, 3, 2)
    assert out.n_input_overflow.shape == (shape[0],)
    grads = jax.grad(
        lambda v: jnp.sum(jnp.where(jnp.isfinite(o := conv.apply(v, x).times), o, 0.0))
    )(variables)
    np.testing.assert_array_equal(grads["params"]["kernel"], 0.0)


# --------------------------------------------------------------------------------------
# the compiled kernel under AddressSanitizer + UndefinedBehaviorSanitizer
# --------------------------------------------------------------------------------------

# The kernel tests run in the sanitized process, and a saturation check: this build stops
# a neuron at 100000 spikes (the real limit, 2**31 - 1, takes a minute per neuron).
SANITIZED_LIMIT = 100_000
SANITIZED_TESTS = [
    "tests/lif/test_kernel_safety.py",
    "tests/lif/test_backends.py",
    "tests/lif/test_layer.py",
    "tests/lif/test_grad.py",
]
SANITIZED_RUN = """
    import sys
    from pathlib import Path
    from snnjax.lif.backends import ffi
    ffi.load({lib!r})
    import jax.numpy as jnp, pytest, snnjax
    code = pytest.main({args!r})
    assert ffi._loaded == [Path({lib!r})], ffi._loaded  # the tests ran on this build
    out = snnjax.lif_layer(jnp.zeros((3, 1, 1)), jnp.full((1, 2), 1e7),
                           snnjax.LIFParams(0.13, 1.0), max_spikes=2, t_max=1.0, backend="ffi")
    assert (out.n_dropped == {limit} - 2).all(), out
    print("sanitized run: pytest exit", int(code))
    sys.exit(int(code))
"""


def _sanitizer_preload() -> str:
    """``LD_PRELOAD`` for a sanitized library in a Python process: libasan first (it must
    come first), libstdc++ so that ASan finds ``__cxa_throw`` (jaxlib throws)."""
    cxx = ffi.compiler()
    if cxx is None:
        pytest.skip("no C++ compiler")
    libs = []
    for name in ("libasan.so", "libstdc++.so"):
        found = subprocess.run([cxx, f"-print-file-name={name}"], capture_output=True, text=True)
        path = found.stdout.strip()
        if not os.path.isabs(path) or not os.path.exists(path):
            pytest.skip(f"{cxx} has no {name} (sanitizer runtime not installed)")
        libs.append(path)
    return " ".join(libs)


@pytest.mark.slow
@needs_ffi
def test_kernel_tests_pass_under_address_and_undefined_behavior_sanitizers(tmp_path):
    """Build the kernel with ``-fsanitize=address,undefined`` and run its tests (the ffi
    backend's cases) in a subprocess that preloads the sanitizer runtime; any report
    aborts that process (``halt_on_error``), failing this test."""
    preload = _sanitizer_preload()
    flags = ffi.SANITIZER_FLAGS + (f"-DSNNJAX_SPIKE_COUNT_LIMIT={SANITIZED_LIMIT}",)
    try:
        lib = ffi.build(flags, tmp_path)
    except RuntimeError as err:
        pytest.skip(f"the sanitizer build failed (no sanitizer support?): {err}")
    args = [
        *SANITIZED_TESTS,
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "--capture=sys",  # (fd-level capture would swallow a sanitizer report)
        "-m",
        "not slow",
        "-k",
        "(ffi or safety) and not count_limit",
    ]
    logs = tmp_path / "sanitizer"
    env = {
        "LD_PRELOAD": preload,
        "ASAN_OPTIONS": f"detect_leaks=0:halt_on_error=1:log_path={logs}",
        "UBSAN_OPTIONS": f"halt_on_error=1:print_stacktrace=1:log_path={logs}",
    }
    code = SANITIZED_RUN.format(lib=str(lib), args=args, limit=SANITIZED_LIMIT)
    proc = run_python(code, env=env, timeout=1800)
    reports = "".join(p.read_text()[:6000] for p in sorted(tmp_path.glob("sanitizer*")))
    output = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert not reports, f"sanitizer report:\n{reports}\n{output}"
    assert proc.returncode == 0, output
    assert "passed" in proc.stdout, output


def test_empty_batch_through_networks(backend):
    """An empty batch through a dense and a convolutional network (Flatten, per-sample
    counters): empty outputs, no ZeroDivisionError from a reshape."""
    dense = snnjax.nn.make_dense_network((5, 7, 3), max_spikes=2, backend=backend)
    x = jnp.zeros((0, 5, 1))
    out = dense.apply(dense.init(jax.random.key(0), x), x)
    assert out.times.shape == (0, 3, 2)
    assert [d.shape for d in out.n_dropped] == [(0,), (0,)]
    conv = snnjax.nn.SpikingNetwork(
        layers=(
            snnjax.nn.LIFConv(features=2, kernel_size=(3, 3), backend=backend),
            snnjax.nn.Flatten(),
            snnjax.nn.LIFDense(features=3, max_spikes=1, backend=backend),
        )
    )
    x = jnp.zeros((0, 5, 5, 1, 1))
    out = conv.apply(conv.init(jax.random.key(0), x), x)
    assert out.times.shape == (0, 3, 1)


# --------------------------------------------------------------------------------------
# sizes that int32 indices (or float32 event indices) cannot address: clear errors
# --------------------------------------------------------------------------------------


def test_more_input_slots_than_int32_indices_is_an_error():
    t = jax.ShapeDtypeStruct((1, 2**16, 2**15), jnp.float32)  # 2**31 slots (never allocated)
    w = jax.ShapeDtypeStruct((2**16, 2), jnp.float32)
    layer = lambda t, w: snnjax.lif_layer(t, w, snnjax.LIFParams(), max_spikes=1, t_max=1.0)
    with pytest.raises(ValueError, match="2147483648 slots per sample"):
        jax.eval_shape(layer, t, w)


def test_loop_backend_float32_event_indices_must_be_exact():
    """The loop backend records event indices in the layer dtype: float32 is exact up to
    2**24 events per sample (beyond, the backward would match spikes to wrong events)."""
    params = jax.tree_util.tree_map(jnp.asarray, snnjax.LIFParams())
    w = jnp.ones((1, 2), jnp.float32)

    def forward(n_events, dtype):
        events = Events(
            jax.ShapeDtypeStruct((1, n_events), dtype),
            jax.ShapeDtypeStruct((1, n_events), jnp.int32),
        )
        return jax.eval_shape(
            lambda ev, w: loop.forward_events(ev, w, params, jnp.asarray(1.0, dtype), 2),
            events,
            w.astype(dtype),
        )

    assert forward(2**24, jnp.float32).times.shape == (1, 2, 2)
    with pytest.raises(ValueError, match="exact up to 16777216 events"):
        forward(2**24 + 1, jnp.float32)
    with float64():
        assert forward(2**24 + 1, jnp.float64).times.shape == (1, 2, 2)
