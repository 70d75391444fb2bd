"""The compiled CPU event kernel (XLA FFI custom calls), built on first use.

On CPU, XLA runs the event loop of :mod:`snnjax.kernel` one small kernel launch at a time;
``csrc/lif_kernel.cc`` runs the same algorithm as one fused C++ loop per sample (OpenMP over
samples, SIMD over neurons). It is compiled with the system C++ compiler the first time it
is needed and cached in ``$SNNJAX_CACHE_DIR`` (default ``~/.cache/snnjax``). Where it cannot
be built (no compiler) snnjax warns once and uses the pure-JAX kernel, which is also the
kernel on GPU/TPU. ``SNNJAX_KERNEL=xla`` forces the pure-JAX kernel everywhere; the test suite
checks that both give the same spike times and gradients.
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

__all__ = ["available", "use_cpu_kernel", "sort_events", "forward", "backward"]

_SOURCE = Path(__file__).parent / "csrc" / "lif_kernel.cc"
# -fno-math-errno lets sqrt vectorise (no errno for negative inputs; results are unchanged).
_FLAGS = ["-O3", "-march=native", "-fno-math-errno", "-fno-trapping-math", "-fopenmp", "-shared",
          "-fPIC", "-std=c++17"]


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags = ""
    return platform.machine() + hashlib.sha1(flags.encode()).hexdigest()[:8]


def _library_path() -> Path:
    key = hashlib.sha256()
    key.update(_SOURCE.read_bytes())
    key.update(" ".join(_FLAGS).encode())
    key.update(jax.__version__.encode())
    key.update(_cpu_signature().encode())
    cache = Path(os.environ.get("SNNJAX_CACHE_DIR", Path.home() / ".cache" / "snnjax"))
    return cache / f"lif_kernel_{key.hexdigest()[:16]}.so"


def _build(target: Path) -> None:
    compiler = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise RuntimeError("no C++ compiler found (set CXX or install g++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        tmp_lib = Path(tmp) / target.name
        cmd = [compiler, *_FLAGS, f"-I{jax.ffi.include_dir()}", str(_SOURCE), "-o", str(tmp_lib)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {_SOURCE.name} failed:\n{proc.stderr[-2000:]}")
        os.replace(tmp_lib, target)  # atomic: concurrent builders never see a partial file


@functools.cache
def available() -> bool:
    """Build (once), load and register the CPU kernel; False (with a warning) if impossible."""
    try:
        path = _library_path()
        if not path.exists():
            _build(path)
        lib = ctypes.cdll.LoadLibrary(str(path))
        for name in ("SnnjaxLifForwardF32", "SnnjaxLifForwardF64", "SnnjaxLifBackwardF32",
                     "SnnjaxLifBackwardF64", "SnnjaxSortEventsF32", "SnnjaxSortEventsF64",
                     "SnnjaxScatterEventsF32", "SnnjaxScatterEventsF64"):
            jax.ffi.register_ffi_target(name, jax.ffi.pycapsule(getattr(lib, name)),
                                        platform="cpu")
        return True
    except Exception as err:  # noqa: BLE001 - any failure means: use the portable kernel
        warnings.warn(f"snnjax: compiled CPU kernel unavailable ({err}); using the pure-JAX "
                      "event kernel (slower on CPU, same results)", RuntimeWarning, stacklevel=3)
        return False


def use_cpu_kernel(tau_syn) -> bool:
    """Whether this trace should use the compiled kernel (CPU backend, scalar ``tau_syn``)."""
    choice = os.environ.get("SNNJAX_KERNEL", "auto").lower()
    if choice not in ("auto", "cpu", "xla"):
        raise ValueError(f"SNNJAX_KERNEL must be auto, cpu or xla, got {choice!r}")
    if choice == "xla" or jnp.ndim(tau_syn) != 0:
        return False
    if choice == "auto" and jax.default_backend() != "cpu":
        return False
    return available()


def _require() -> None:
    if not available():
        raise RuntimeError("the compiled CPU kernel is unavailable here (see the warning above); "
                           "use the pure-JAX kernel (SNNJAX_KERNEL=xla)")


def _suffix(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return "F32"
    if dtype == np.float64:
        return "F64"
    raise TypeError(f"the CPU kernel supports float32 and float64, got {dtype}")


def _sort_call(input_times, t_max, n_events: int):
    batch = input_times.shape[0]
    dtype = input_times.dtype
    out_types = (jax.ShapeDtypeStruct((batch, n_events), dtype),
                 jax.ShapeDtypeStruct((batch, n_events), jnp.int32),
                 jax.ShapeDtypeStruct((batch, n_events), jnp.int32),
                 jax.ShapeDtypeStruct((batch,), jnp.int32))
    call = jax.ffi.ffi_call(f"SnnjaxSortEvents{_suffix(dtype)}", out_types,
                            vmap_method="sequential")
    return call(input_times, jnp.reshape(jnp.asarray(t_max, dtype), (1,)))


def _scatter_call(d_event_times, slot, slots_shape):
    out_type = jax.ShapeDtypeStruct(slots_shape, d_event_times.dtype)
    call = jax.ffi.ffi_call(f"SnnjaxScatterEvents{_suffix(d_event_times.dtype)}", out_type,
                            vmap_method="sequential")
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


def sort_events(input_times, t_max, n_events: int):
    """Merge each sample's spike trains into one time-sorted event list (compiled).

    Only the valid slots (finite, ``< t_max``) are sorted, by (time, slot); the times are
    gathered and their gradient scattered back by the compiled kernel, so XLA never gathers
    or scatters the mostly empty ``[B, n_in * K]`` slots of a multi-spike layer.

    Args:
      input_times: ``[B, n_in, K]`` spike times; ``inf`` = empty slot.
      t_max: slots at or after ``t_max`` are not events (no gradient flows to ``t_max``).
      n_events: static number of events ``E`` to return per sample.

    Returns:
      ``(event_times [B, E], event_source [B, E] int32, n_valid [B] int32)``: the earliest
      ``E`` event times (``inf`` padded; differentiable w.r.t. ``input_times``), their
      presynaptic neurons (0 on padding), and the number of valid events (``> E`` means
      overflow).
    """
    _require()
    input_times = jnp.asarray(input_times)
    t_max = jnp.asarray(t_max, input_times.dtype)
    return _sort_with_vjp(tuple(input_times.shape), int(n_events))(input_times, t_max)


def forward(event_times, event_source, weights, tau_syn, theta, delta_theta, t_max,
            max_spikes: int):
    """Compiled equivalent of :func:`snnjax.kernel.forward_events` (same arguments).

    Returns:
      ``(times [B, N, K], slope [B, N, K], event_index [B, N, K] int32, n_spikes [B, N])``.
    """
    _require()
    batch, _ = event_times.shape
    n_out = weights.shape[1]
    dtype = weights.dtype
    per_neuron = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype), (n_out,))
    scalars = jnp.stack([jnp.asarray(tau_syn, dtype), jnp.asarray(t_max, dtype)])
    out_types = (
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), dtype),
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), dtype),
        jax.ShapeDtypeStruct((batch, n_out, max_spikes), jnp.int32),
        jax.ShapeDtypeStruct((batch, n_out), jnp.int32),
    )
    call = jax.ffi.ffi_call(f"SnnjaxLifForward{_suffix(dtype)}", out_types,
                            vmap_method="sequential")
    return call(event_times, event_source.astype(jnp.int32), weights, per_neuron(theta),
                per_neuron(delta_theta), scalars)


def backward(event_times, event_source, weights, tau_syn, delta_theta, cot_times, times,
             slope, event_index, n_spikes):
    """Compiled backward of :mod:`snnjax.grad`: spike errors (with the reset paths) and the
    reverse event loop, in one call.

    Args:
      event_times, event_source, weights, tau_syn, delta_theta: as in the forward.
      cot_times: ``[B, N, K]`` ``dL/dt`` of every slot (ignored on empty slots).
      times, slope, event_index, n_spikes: the forward's outputs.

    Returns:
      ``(d_weights [n_in, N], d_event_times [B, E])``.
    """
    _require()
    dtype = weights.dtype
    n_out = weights.shape[1]
    scalars = jnp.stack([jnp.asarray(tau_syn, dtype), jnp.asarray(0.0, dtype)])
    out_types = (jax.ShapeDtypeStruct(weights.shape, dtype),
                 jax.ShapeDtypeStruct(event_times.shape, dtype))
    call = jax.ffi.ffi_call(f"SnnjaxLifBackward{_suffix(dtype)}", out_types,
                            vmap_method="sequential")
    return call(event_times, event_source.astype(jnp.int32), weights,
                jnp.broadcast_to(jnp.asarray(delta_theta, dtype), (n_out,)), scalars,
                cot_times.astype(dtype), times, slope, event_index.astype(jnp.int32),
                n_spikes.astype(jnp.int32))
