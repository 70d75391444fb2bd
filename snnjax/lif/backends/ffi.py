"""The ``"ffi"`` backend: the compiled CPU event loop (XLA FFI custom calls), built on first use.

On CPU, XLA runs the event loop of the ``"loop"`` backend (:mod:`snnjax.lif.backends.loop`)
one small kernel launch at a time; ``csrc/lif_kernel.cc`` runs the same algorithm as one
fused C++ loop per sample (OpenMP over samples, SIMD over neurons), and the event merge as
a sort of only the valid slots. It is compiled with the system C++ compiler the first time
it is needed and cached in ``$SNNJAX_CACHE_DIR`` (default ``~/.cache/snnjax``). Where it
cannot be built (no compiler) snnjax warns once and the automatic choice uses ``"loop"``.
:func:`build` and :func:`load` do the same for other compiler flags (e.g. the sanitizer
build of the test suite, :data:`SANITIZER_FLAGS`).
The custom calls are registered for the CPU platform only, and the backend supports
float32/float64 layers with a scalar ``tau_syn``.

The custom calls (argument order as bound in ``lif_kernel.cc``)::

    SnnjaxSortEvents{F32,F64}(input_times [B, n_in, K], t_max [])
        -> event_times [B, E], source [B, E] i32, slot [B, E] i32, n_valid [B] i32
    SnnjaxScatterEvents{F32,F64}(d_event_times [B, E], slot [B, E] i32)
        -> d_input_times [B, n_in, K]
    SnnjaxLifForward{F32,F64}(event_times, event_source, weights [n_in, N], theta [N],
                              delta_theta [N], tau_syn [], t_max [])
        -> times [B, N, K], slope [B, N, K], event_index [B, N, K] i32, n_spikes [B, N] i32,
           n_unresolved [B, N] i32
    SnnjaxLifBackward{F32,F64}(event_times, event_source, weights, delta_theta [N],
                               tau_syn [], cot_times, times, slope, event_index, n_spikes)
        -> d_weights [n_in, N], d_event_times [B, E]

``tau_syn`` and ``t_max`` are 0-d buffers, not FFI attributes: attributes are compile-time
constants, and both are traced (sweeping them must not recompile). Malformed buffers (an
event source that is not a weight row, an event index that is not an event, more than
``2**31 - 1`` events) make a call fail with ``InvalidArgument``; nothing is written out of
bounds, and spike counts saturate at ``2**31 - 1``.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

from snnjax.lif.backends import EventBackend
from snnjax.lif.events import Events
from snnjax.lif.forward import EventForward, make_event_forward
from snnjax.lif.params import LIFParams

__all__ = [
    "BACKEND",
    "DEFAULT_FLAGS",
    "SANITIZER_FLAGS",
    "available",
    "backward",
    "build",
    "forward",
    "load",
    "sort_events",
    "supports",
]

_SOURCE = Path(__file__).parent / "csrc" / "lif_kernel.cc"
# -fno-math-errno lets sqrt vectorise (no errno for negative inputs; results are unchanged).
DEFAULT_FLAGS: tuple[str, ...] = (
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fopenmp",
    "-shared",
    "-fPIC",
    "-std=c++17",
)
"""Compiler flags of the kernel that :func:`available` builds and loads."""
SANITIZER_FLAGS: tuple[str, ...] = (
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fopenmp",
    "-shared",
    "-fPIC",
    "-std=c++17",
)
"""AddressSanitizer + UBSan build (``tests/lif/test_kernel_safety.py``): :func:`load` it into
a Python process started with ``LD_PRELOAD="$(g++ -print-file-name=libasan.so)
$(g++ -print-file-name=libstdc++.so)"`` (the ASan runtime must come first; libstdc++ lets
it intercept the C++ exceptions jaxlib throws) and ``ASAN_OPTIONS=detect_leaks=0``."""
_TARGETS = (
    "SnnjaxLifForwardF32",
    "SnnjaxLifForwardF64",
    "SnnjaxLifBackwardF32",
    "SnnjaxLifBackwardF64",
    "SnnjaxSortEventsF32",
    "SnnjaxSortEventsF64",
    "SnnjaxScatterEventsF32",
    "SnnjaxScatterEventsF64",
)


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + hashlib.sha1(flags.encode()).hexdigest()[:8]


def _library_path(flags: tuple[str, ...], cache_dir: Path | None) -> Path:
    key = hashlib.sha256()
    key.update(_SOURCE.read_bytes())
    key.update(" ".join(flags).encode())
    key.update(jax.__version__.encode())
    key.update(_cpu_signature().encode())
    if cache_dir is None:
        cache_dir = Path(os.environ.get("SNNJAX_CACHE_DIR", Path.home() / ".cache" / "snnjax"))
    return Path(cache_dir) / f"lif_kernel_{key.hexdigest()[:16]}.so"


def compiler() -> str | None:
    """The C++ compiler the kernel is built with: ``$CXX``, else ``g++`` or ``c++``."""
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def build(flags: tuple[str, ...] = DEFAULT_FLAGS, cache_dir: str | Path | None = None) -> Path:
    """Compile ``csrc/lif_kernel.cc`` with ``flags`` (once; cached by source, flags, jax
    version and CPU) and return the library's path.

    Args:
      flags: compiler flags (:data:`DEFAULT_FLAGS`, :data:`SANITIZER_FLAGS`, ...).
      cache_dir: where the library goes; default ``$SNNJAX_CACHE_DIR`` or ``~/.cache/snnjax``.

    Raises:
      RuntimeError: no compiler, or the compilation failed (with its messages).
    """
    target = _library_path(tuple(flags), None if cache_dir is None else Path(cache_dir))
    if target.exists():
        return target
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_lib = Path(tmp) / target.name
        cmd = [cxx, *flags, f"-I{jax.ffi.include_dir()}", str(_SOURCE), "-o", str(tmp_lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {_SOURCE.name} failed:\n{proc.stderr[-2000:]}")
        os.replace(tmp_lib, target)  # atomic: concurrent builders never see a partial file
    return target


_loaded: list[Path] = []  # the library whose custom calls are registered (at most one)


def load(path: str | Path) -> None:
    """Load a kernel library built by :func:`build` and register its custom calls (once
    per process: the calls of a second, different library cannot replace them).

    Raises:
      RuntimeError: another library is already registered in this process.
      OSError: the library cannot be loaded.
    """
    path = Path(path)
    if _loaded:
        if _loaded[0] != path:
            raise RuntimeError(
                f"cannot load {path}: the kernel {_loaded[0]} is already registered in this "
                "process (load the other one in a fresh process)"
            )
        return
    lib = ctypes.cdll.LoadLibrary(str(path))
    for name in _TARGETS:
        jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)), platform="cpu")
    _loaded.append(path)


@functools.cache
def available() -> bool:
    """Build (once), load and register the CPU kernel (or use the one :func:`load` already
    registered); False (with a warning) if impossible."""
    try:
        if not _loaded:
            load(build())
        return True
    except Exception as err:  # any failure means: use the portable kernel
        warnings.warn(
            f"snnjax: compiled CPU kernel unavailable ({err}); using the pure-JAX "
            "event kernel (slower on CPU, same results)",
            RuntimeWarning,
            stacklevel=3,
        )
        return False


def supports(dtype: DTypeLike, params: LIFParams) -> bool:
    """float32/float64 layers with a scalar ``tau_syn`` (``theta``, ``delta_theta`` may be
    per neuron)."""
    return np.dtype(dtype) in (np.float32, np.float64) and jnp.ndim(params.tau_syn) == 0


def _require() -> None:
    if not available():
        raise RuntimeError(
            "the compiled CPU kernel is unavailable here (see the warning above); "
            "use the pure-JAX event loop (backend='loop')"
        )


def _suffix(dtype: DTypeLike) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return "F32"
    if dtype == np.float64:
        return "F64"
    raise TypeError(f"the CPU kernel supports float32 and float64, got {dtype}")


def _scalar(value, dtype: DTypeLike) -> jax.Array:
    """A 0-d buffer of ``dtype`` (a named scalar argument of a custom call)."""
    return jnp.reshape(jnp.asarray(value, dtype), ())


def _sort_call(input_times: jax.Array, t_max: jax.Array, n_events: int):
    batch = input_times.shape[0]
    dtype = input_times.dtype
    out_types = (
        jax.ShapeDtypeStruct((batch, n_events), dtype),  # event_times
        jax.ShapeDtypeStruct((batch, n_events), jnp.int32),  # source
        jax.ShapeDtypeStruct((batch, n_events), jnp.int32),  # slot
        jax.ShapeDtypeStruct((batch,), jnp.int32),
    )  # n_valid
    call = jax.ffi.ffi_call(
        f"SnnjaxSortEvents{_suffix(dtype)}", out_types, vmap_method="sequential"
    )
    return call(input_times, _scalar(t_max, dtype))


def _scatter_call(d_event_times: jax.Array, slot: jax.Array, slots_shape: tuple[int, ...]):
    out_type = jax.ShapeDtypeStruct(slots_shape, d_event_times.dtype)
    call = jax.ffi.ffi_call(
        f"SnnjaxScatterEvents{_suffix(d_event_times.dtype)}", out_type, vmap_method="sequential"
    )
    return call(d_event_times, slot)


@functools.cache
def _sort_with_vjp(slots_shape: tuple[int, ...], n_events: int):
    """``custom_vjp`` sort for one static ``[B, n_in, K]`` shape: the gradient of the
    event times goes back to their slots through the compiled scatter."""

    @jax.custom_vjp
    def sort(input_times, t_max):
        times, source, _slot, n_valid = _sort_call(input_times, t_max, n_events)
        return times, source, n_valid

    def fwd(input_times, t_max):
        times, source, slot, n_valid = _sort_call(input_times, t_max, n_events)
        return (times, source, n_valid), (slot, jnp.zeros_like(t_max))

    def bwd(residuals, cotangents):
        slot, zero_t_max = residuals
        return _scatter_call(cotangents[0], slot, slots_shape), zero_t_max

    sort.defvjp(fwd, bwd)
    return sort


def sort_events(
    input_times: jax.Array, t_max: jax.Array, n_events: int
) -> tuple[Events, jax.Array]:
    """Merge each sample's spike trains into one time-sorted event list (compiled).

    Only the valid slots (finite, ``< t_max``) are sorted, by (time, slot); the times are
    gathered and their gradient scattered back by the compiled kernel, so XLA never gathers
    or scatters the mostly empty ``[B, n_in * K]`` slots of a multi-spike layer. Same
    result as :func:`snnjax.lif.events.sort_events`.

    Args:
      input_times: ``[B, n_in, K]`` spike times; ``inf`` = empty slot.
      t_max: slots at or after ``t_max`` are not events (no gradient flows to ``t_max``).
      n_events: static number of events ``E`` to return per sample.

    Returns:
      ``(events, n_overflow [B] int32)``: the earliest ``E`` events (``inf`` padded, source
      0 on padding; times differentiable w.r.t. ``input_times``) and how many valid events
      did not fit.
    """
    _require()
    input_times = jnp.asarray(input_times)
    t_max = jnp.asarray(t_max, input_times.dtype)
    times, source, n_valid = _sort_with_vjp(tuple(input_times.shape), int(n_events))(
        input_times, t_max
    )
    n_overflow = jnp.maximum(n_valid - n_events, 0).astype(jnp.int32)
    return Events(times=times, source=source), n_overflow


def forward(
    events: Events, weights: jax.Array, params: LIFParams, t_max: jax.Array, max_spikes: int
) -> EventForward:
    """Compiled equivalent of :func:`snnjax.lif.backends.loop.forward_events` (same
    arguments and result; ``params.tau_syn`` must be a scalar)."""
    _require()
    event_times, event_source = events
    batch, _ = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    per_neuron = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype), (n_out,))
    out_types = (
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), dtype),  # times
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), dtype),  # slope
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), jnp.int32),  # event_index
        jax.ShapeDtypeStruct((batch, n_out), jnp.int32),  # n_spikes
        jax.ShapeDtypeStruct((batch, n_out), jnp.int32),  # n_unresolved
    )
    call = jax.ffi.ffi_call(
        f"SnnjaxLifForward{_suffix(dtype)}", out_types, vmap_method="sequential"
    )
    times, slope, event_index, n_spikes, n_unresolved = call(
        event_times,
        event_source.astype(jnp.int32),
        weights,
        per_neuron(params.theta),
        per_neuron(params.delta_theta),
        _scalar(params.tau_syn, dtype),
        _scalar(t_max, dtype),
    )
    return make_event_forward(event_times, times, slope, event_index, n_spikes, n_unresolved)


def backward(
    events: Events,
    weights: jax.Array,
    params: LIFParams,
    forward: EventForward,
    cot_times: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Compiled equivalent of :func:`snnjax.lif.backends.loop.backward_events`: spike
    errors (with the reset paths) and the reverse event loop, in one call.

    Returns:
      ``(d_event_times [B, E], d_weights [n_in, N])``.
    """
    _require()
    event_times, event_source = events
    dtype = weights.dtype
    n_out = weights.shape[1]
    out_types = (
        jax.ShapeDtypeStruct(weights.shape, dtype),  # d_weights
        jax.ShapeDtypeStruct(event_times.shape, dtype),
    )  # d_event_times
    call = jax.ffi.ffi_call(
        f"SnnjaxLifBackward{_suffix(dtype)}", out_types, vmap_method="sequential"
    )
    d_weights, d_times = call(
        event_times,
        event_source.astype(jnp.int32),
        weights,
        jnp.broadcast_to(jnp.asarray(params.delta_theta, dtype), (n_out,)),
        _scalar(params.tau_syn, dtype),
        cot_times.astype(dtype),
        forward.times,
        forward.slope,
        forward.event_index.astype(jnp.int32),
        forward.n_spikes.astype(jnp.int32),
    )
    return d_times, d_weights


BACKEND = EventBackend(
    name="ffi",
    sort_events=sort_events,
    forward=forward,
    backward=backward,
    supports=supports,
    available=available,
    platforms=("cpu",),
)
