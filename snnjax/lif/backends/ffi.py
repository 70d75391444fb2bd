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

Batching (``jax.vmap``). Three more calls take per-sample weight sets and parameters::

    SnnjaxLifForwardIndexed{F32,F64}(event_times, event_source, weights [S, n_in, N],
        w_index [B] i32, theta [B, N], delta_theta [B, N], tau_syn [B], t_max [B])
        -> times, slope, event_index, n_spikes, n_unresolved (as SnnjaxLifForward)
    SnnjaxLifForwardTimes{F32,F64}(same arguments) -> times, n_spikes, n_unresolved
    SnnjaxLifBackwardIndexed{F32,F64}(event_times, event_source, weights [S, n_in, N],
        w_index [B] i32, dw_index [B] i32, delta_theta [B, N], tau_syn [B], cot_times,
        times, slope, event_index, n_spikes) -> d_weights [S_out, n_in, N], d_event_times

The event lists of a convolution's receptive fields (:mod:`snnjax.nn.conv_events`), from one
sort per image::

    SnnjaxConvSortEvents{F32,F64}(input_times [B, H, W, C, K], t_max [], kh, kw attributes)
        -> event_times [B*H'*W', E], source [B*H'*W', E] i32, slot [B*H'*W', E] i32,
           n_valid [B*H'*W'] i32
    SnnjaxConvScatterEvents{F32,F64}(d_event_times [B*H'*W', E], slot)
        -> d_input_times [B, H, W, C, K] (summed over the patches)

Every call is wrapped in a ``jax.custom_batching.custom_vmap`` whose rule folds the vmapped
axis into the kernel's batch: samples ``[V, B, ...] -> [V*B, ...]``, weights ``[V, S, ...]
-> [V*S, ...]`` with set indices ``v*S + w_index``, parameters per sample once any is
vmapped. So ``vmap`` over samples, weights (noise seeds, ensembles) or parameters, nested
or not, is one call of each kernel, never a loop (``vmap_method="sequential"`` is gone).

The gradient is not a ``custom_vjp`` here but a ``custom_jvp`` whose tangent is a linear
primitive (``snnjax_lif_tangent``, transposed by the backward kernel; :func:`spike_times`,
:attr:`~snnjax.lif.backends.EventBackend.spike_times`). Why: JAX batches a ``custom_vjp``
by vmapping its bwd and *then* summing the weight gradient of unbatched weights over the
vmapped axis, so ``grad(vmap(f))`` would write one ``[n_in, N]`` gradient per vmapped
sample (no rule can tell that the sum follows: ``vmap(grad(f))`` needs exactly those
per-sample gradients). A ``custom_vmap`` cannot go around the ``custom_vjp`` instead: JAX
cannot transpose it (no reverse mode). The tangent primitive's batching rule folds the
vmap *before* the transpose, so ``grad(vmap(f))`` transposes one folded call with shared
weights (one weight gradient), while ``vmap(grad(f))`` transposes inside the vmap and gets
per-sample gradients. Forward-mode ``jax.jvp`` is not implemented (as for a
``custom_vjp``).
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
from jax.custom_derivatives import SymbolicZero
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir
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
    "fold_batch",
    "forward",
    "kernel_suffix",
    "load",
    "mask_batched_t_max",
    "sort_events",
    "spike_times",
    "supports",
    "unfold_batch",
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
    "SnnjaxLifForwardIndexedF32",
    "SnnjaxLifForwardIndexedF64",
    "SnnjaxLifBackwardIndexedF32",
    "SnnjaxLifBackwardIndexedF64",
    "SnnjaxLifForwardTimesF32",
    "SnnjaxLifForwardTimesF64",
    "SnnjaxConvSortEventsF32",
    "SnnjaxConvSortEventsF64",
    "SnnjaxConvScatterEventsF32",
    "SnnjaxConvScatterEventsF64",
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


def kernel_suffix(dtype: DTypeLike) -> str:
    """The custom-call name suffix of ``dtype`` (``"F32"``, ``"F64"``; else TypeError)."""
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return "F32"
    if dtype == np.float64:
        return "F64"
    raise TypeError(f"the CPU kernel supports float32 and float64, got {dtype}")


def _scalar(value, dtype: DTypeLike) -> jax.Array:
    """A 0-d buffer of ``dtype`` (a named scalar argument of a custom call)."""
    return jnp.reshape(jnp.asarray(value, dtype), ())


# --------------------------------------------------------------------------------------
# Batching rules. Every custom call below is a ``jax.custom_batching.custom_vmap`` function
# whose rule folds the vmapped axis into the kernel's batch axis (one call, nested vmaps
# fold again): per-sample arrays ``[V, B, ...] -> [V*B, ...]`` (broadcast when unbatched),
# weight sets ``[V, S, n_in, N] -> [V*S, n_in, N]`` with each sample's set index shifted by
# ``v*S``, and layer parameters (``theta``, ``delta_theta`` ``[N]``, ``tau_syn``, ``t_max``
# ``[]``) as one value per sample once any of them is vmapped (``[B, N]``, ``[B]``). The
# indexed kernels (``SnnjaxLif*Indexed``, ``SnnjaxLifForwardTimes``) take weight sets
# ``[S, n_in, N]`` with a set index per sample and per-sample parameters; one weight set
# with shared parameters uses the plain kernels. No path falls back to a loop.
# --------------------------------------------------------------------------------------


def fold_batch(x: jax.Array, batched: bool, axis_size: int) -> jax.Array:
    """A per-sample array ``[V, B, ...]`` (or ``[B, ...]``, broadcast) as ``[V*B, ...]``
    (the vmapped axis ``V`` folded into a kernel's batch)."""
    if not batched:
        x = jnp.broadcast_to(x, (axis_size,) + x.shape)
    return x.reshape((axis_size * x.shape[1],) + x.shape[2:])


def _fold_some(args, in_batched, axis_size: int, which) -> list[jax.Array]:
    """:func:`fold_batch` of the per-sample arguments ``args[i]``, ``i in which``."""
    return [fold_batch(args[i], in_batched[i], axis_size) for i in which]


def unfold_batch(x: jax.Array, axis_size: int) -> jax.Array:
    """``[V*B, ...]`` back as ``[V, B, ...]`` (inverse of :func:`fold_batch`)."""
    return x.reshape((axis_size, x.shape[0] // axis_size) + x.shape[1:])


def _shifted_index(index: jax.Array, batched: bool, axis_size: int, n_sets: int) -> jax.Array:
    """Set indices ``[V, B]`` of the folded sets: vmapped sample ``v`` uses ``v*S + index``."""
    if not batched:
        index = jnp.broadcast_to(index, (axis_size,) + index.shape)
    shift = jnp.arange(axis_size, dtype=jnp.int32)[:, None] * n_sets
    return (index + shift).reshape(-1)


def _fold_sets(weights, w_index, w_batched: bool, i_batched: bool, axis_size: int):
    """Weight sets and per-sample set indices with the vmapped axis folded in."""
    if w_batched:
        n_sets = weights.shape[1]
        index = _shifted_index(w_index, i_batched, axis_size, n_sets)
        return weights.reshape((-1,) + weights.shape[2:]), index
    return weights, fold_batch(w_index, i_batched, axis_size)


def _fold_params(params, in_batched, axis_size: int, batch: int):
    """Layer parameters with the vmapped axis folded in.

    ``params`` are shared (``theta``/``delta_theta`` ``[N]``, ``tau_syn``/``t_max`` ``[]``)
    or per sample (``[B, N]``, ``[B]``; the last one is ``tau_syn`` or ``t_max``, whose rank
    tells which). Unbatched shared parameters stay shared; otherwise every one becomes
    per sample, ``[V*B, ...]``.
    """
    per_sample = params[-1].ndim - in_batched[-1] == 1
    if not per_sample and not any(in_batched):
        return params
    folded = []
    for x, batched in zip(params, in_batched, strict=True):
        if not per_sample:  # [V, ...] or [...] -> [V, B, ...]
            x = x[:, None] if batched else x[None, None]
            batched = True
            x = jnp.broadcast_to(x, (axis_size, batch) + x.shape[2:])
        folded.append(fold_batch(x, batched, axis_size))
    return tuple(folded)


def _per_sample(params, batch: int):
    """Shared or per-sample parameters as per-sample ones (``[B, N]``, ``[B]``)."""
    if params[-1].ndim == 1:
        return tuple(params)
    return tuple(jnp.broadcast_to(x, (batch,) + x.shape) for x in params)


def _call(name: str, dtype: DTypeLike, out_types, *args):
    # No vmap_method: these calls are only reached through the custom_vmap rules below.
    return jax.ffi.ffi_call(f"{name}{kernel_suffix(dtype)}", out_types)(*args)


def mask_batched_t_max(axis_size: int, in_batched, input_times, t_max):
    """The vmap rule's operands of an event sort when ``t_max`` may be vmapped.

    A ``t_max`` per vmapped sample cannot be passed to one kernel call: the late slots of
    each sample are masked to ``inf`` instead (they are no events), and the call gets
    ``t_max = inf``. Unbatched ``t_max``: the operands unchanged.

    Returns:
      ``(input_times, t_max)``; ``input_times`` batched along axis 0 whenever ``t_max`` is.
    """
    if not in_batched[1]:
        return input_times, t_max
    if not in_batched[0]:
        input_times = jnp.broadcast_to(input_times, (axis_size,) + input_times.shape)
    late = input_times >= t_max.reshape((axis_size,) + (1,) * (input_times.ndim - 1))
    return jnp.where(late, jnp.inf, input_times), jnp.asarray(jnp.inf, input_times.dtype)


@functools.cache
def _sort_kernel(n_events: int):
    """``(input_times [B, n_in, K], t_max) -> (times, source, slot [B, E], n_valid [B])``."""

    @jax.custom_batching.custom_vmap
    def sort(input_times, t_max):
        batch, dtype = input_times.shape[0], input_times.dtype
        out_types = (
            jax.ShapeDtypeStruct((batch, n_events), dtype),  # event_times
            jax.ShapeDtypeStruct((batch, n_events), jnp.int32),  # source
            jax.ShapeDtypeStruct((batch, n_events), jnp.int32),  # slot
            jax.ShapeDtypeStruct((batch,), jnp.int32),  # n_valid
        )
        return tuple(_call("SnnjaxSortEvents", dtype, out_types, input_times, t_max))

    @sort.def_vmap
    def rule(axis_size, in_batched, input_times, t_max):
        input_times, t_max = mask_batched_t_max(axis_size, in_batched, input_times, t_max)
        out = sort(fold_batch(input_times, any(in_batched), axis_size), t_max)
        return tuple(unfold_batch(o, axis_size) for o in out), (True,) * 4

    return sort


@functools.cache
def _scatter_kernel(slots: tuple[int, int]):
    """``(d_event_times [B, E], slot [B, E]) -> d_input_times [B, *slots]``."""

    @jax.custom_batching.custom_vmap
    def scatter(d_event_times, slot):
        shape = (d_event_times.shape[0],) + slots
        out_type = jax.ShapeDtypeStruct(shape, d_event_times.dtype)
        return _call("SnnjaxScatterEvents", d_event_times.dtype, out_type, d_event_times, slot)

    @scatter.def_vmap
    def rule(axis_size, in_batched, d_event_times, slot):
        folded = (
            fold_batch(x, b, axis_size)
            for x, b in zip((d_event_times, slot), in_batched, strict=True)
        )
        out = scatter(*folded)
        return unfold_batch(out, axis_size), True

    return scatter


def _sort_call(input_times: jax.Array, t_max: jax.Array, n_events: int):
    """The compiled sort of ``[B, n_in, K]`` slots (batches under ``vmap``)."""
    return _sort_kernel(int(n_events))(input_times, _scalar(t_max, input_times.dtype))


def _scatter_call(d_event_times: jax.Array, slot: jax.Array, slots_shape: tuple[int, ...]):
    """The compiled scatter into ``slots_shape = [B, n_in, K]`` (batches under ``vmap``)."""
    return _scatter_kernel(tuple(slots_shape[1:]))(d_event_times, slot)


@functools.cache
def _forward_kernel(max_spikes: int, full: bool = True):
    """``(event_times, source [B, E], weights [S, n_in, N], w_index [B], theta, delta_theta,
    tau_syn, t_max) -> (times, slope, event_index [B, N, K], n_spikes, n_unresolved [B, N])``
    (parameters shared or per sample, see :func:`_fold_params`); with ``full=False`` only
    ``(times, n_spikes, n_unresolved)`` (a forward that no gradient needs)."""

    @jax.custom_batching.custom_vmap
    def forward(event_times, source, weights, w_index, *params):
        batch, dtype = event_times.shape[0], weights.dtype
        n_out = weights.shape[2]
        spikes = jax.ShapeDtypeStruct((batch, n_out, max_spikes), dtype)
        counts = jax.ShapeDtypeStruct((batch, n_out), jnp.int32)  # n_spikes, n_unresolved
        index = jax.ShapeDtypeStruct((batch, n_out, max_spikes), jnp.int32)
        out_types = (spikes, spikes, index, counts, counts)  # times, slope, event_index, ...
        if full and weights.shape[0] == 1 and params[-1].ndim == 0:  # the plain kernel
            args = (event_times, source, weights[0], *params)
            return tuple(_call("SnnjaxLifForward", dtype, out_types, *args))
        args = (event_times, source, weights, w_index, *_per_sample(params, batch))
        if full:
            return tuple(_call("SnnjaxLifForwardIndexed", dtype, out_types, *args))
        return tuple(_call("SnnjaxLifForwardTimes", dtype, (spikes, counts, counts), *args))

    @forward.def_vmap
    def rule(axis_size, in_batched, *args):
        batch = args[0].shape[-2]
        weights, w_index = _fold_sets(args[2], args[3], in_batched[2], in_batched[3], axis_size)
        params = _fold_params(args[4:], in_batched[4:], axis_size, batch)
        per_sample = _fold_some(args, in_batched, axis_size, range(2))
        out = forward(*per_sample, weights, w_index, *params)
        return tuple(unfold_batch(o, axis_size) for o in out), (True,) * len(out)

    return forward


@functools.cache
def _backward_kernel(n_grad_sets: int):
    """``(event_times, source, weights [S, n_in, N], w_index [B], dw_index [B],
    delta_theta, tau_syn, cot_times, times, slope, event_index, n_spikes) ->
    (d_weights [n_grad_sets, n_in, N], d_event_times [B, E])``: sample ``b`` reads weight
    set ``w_index[b]`` and adds its weight gradient into set ``dw_index[b]``."""

    @jax.custom_batching.custom_vmap
    def backward(event_times, source, weights, w_index, dw_index, delta_theta, tau_syn, *spikes):
        dtype = weights.dtype
        out_types = (
            jax.ShapeDtypeStruct((n_grad_sets,) + weights.shape[1:], dtype),  # d_weights
            jax.ShapeDtypeStruct(event_times.shape, dtype),  # d_event_times
        )
        if weights.shape[0] == 1 and n_grad_sets == 1 and tau_syn.ndim == 0:  # plain kernel
            plain = (jax.ShapeDtypeStruct(weights.shape[1:], dtype), out_types[1])
            args = (event_times, source, weights[0], delta_theta, tau_syn, *spikes)
            d_weights, d_times = _call("SnnjaxLifBackward", dtype, plain, *args)
            return d_weights[None], d_times
        params = _per_sample((delta_theta, tau_syn), event_times.shape[0])
        args = (event_times, source, weights, w_index, dw_index, *params, *spikes)
        return tuple(_call("SnnjaxLifBackwardIndexed", dtype, out_types, *args))

    @backward.def_vmap
    def rule(axis_size, in_batched, *args):
        batch = args[0].shape[-2]
        weights, w_index = _fold_sets(args[2], args[3], in_batched[2], in_batched[3], axis_size)
        # Every vmapped sample gets its own gradient sets (a vmap of a gradient is per
        # sample); a vmap *outside* the gradient never gets here: see _tangent_batch.
        dw_index = _shifted_index(args[4], in_batched[4], axis_size, n_grad_sets)
        params = _fold_params(args[5:7], in_batched[5:7], axis_size, batch)
        folded = _fold_some(args, in_batched, axis_size, (0, 1, 7, 8, 9, 10, 11))
        out = _backward_kernel(axis_size * n_grad_sets)(
            *folded[:2], weights, w_index, dw_index, *params, *folded[2:]
        )
        return tuple(unfold_batch(o, axis_size) for o in out), (True, True)

    return backward


@functools.cache
def _sort_with_vjp(slots_shape: tuple[int, ...], n_events: int):
    """``custom_vjp`` sort for one static ``[B, n_in, K]`` shape: the gradient of the
    event times goes back to their slots through the compiled scatter."""

    @jax.custom_vjp
    def sort(input_times, t_max):
        times, source, _slot, n_valid = _sort_kernel(n_events)(input_times, t_max)
        return times, source, n_valid

    def fwd(input_times, t_max):
        times, source, slot, n_valid = _sort_kernel(n_events)(input_times, t_max)
        return (times, source, n_valid), (slot, jnp.zeros_like(t_max))

    def bwd(residuals, cotangents):
        slot, zero_t_max = residuals
        return _scatter_kernel(tuple(slots_shape[1:]))(cotangents[0], slot), zero_t_max

    sort.defvjp(fwd, bwd)
    return sort


def sort_events(
    input_times: jax.Array, t_max: jax.Array, n_events: int
) -> tuple[Events, jax.Array]:
    """Merge each sample's spike trains into one time-sorted event list (compiled).

    Only the valid slots (finite, ``< t_max``) are sorted, by (time, slot); the times are
    gathered and their gradient scattered back by the compiled kernel, so XLA never gathers
    or scatters the mostly empty ``[B, n_in * K]`` slots of a multi-spike layer. Same
    result as :func:`snnjax.lif.events.sort_events`; under ``vmap`` one call sorts all
    samples.

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
    t_max = _scalar(t_max, input_times.dtype)
    times, source, n_valid = _sort_with_vjp(tuple(input_times.shape), int(n_events))(
        input_times, t_max
    )
    n_overflow = jnp.maximum(n_valid - n_events, 0).astype(jnp.int32)
    return Events(times=times, source=source), n_overflow


def _layer_args(events: Events, weights: jax.Array, params: LIFParams, t_max: jax.Array):
    """The kernels' arguments: one weight set, per-neuron thresholds, 0-d scalars."""
    dtype, n_out = weights.dtype, weights.shape[1]
    per_neuron = lambda v: jnp.broadcast_to(jnp.asarray(v, dtype), (n_out,))
    w_index = jnp.zeros(events.times.shape[:1], jnp.int32)
    return (
        events.times,
        events.source.astype(jnp.int32),
        weights[None],
        w_index,
        per_neuron(params.theta),
        per_neuron(params.delta_theta),
        _scalar(params.tau_syn, dtype),
        _scalar(t_max, dtype),
    )


def forward(
    events: Events, weights: jax.Array, params: LIFParams, t_max: jax.Array, max_spikes: int
) -> EventForward:
    """Compiled equivalent of :func:`snnjax.lif.backends.loop.forward_events` (same
    arguments and result; ``params.tau_syn`` must be a scalar)."""
    _require()
    args = _layer_args(events, weights, params, t_max)
    times, slope, event_index, n_spikes, n_unresolved = _forward_kernel(int(max_spikes))(*args)
    return make_event_forward(events.times, times, slope, event_index, n_spikes, n_unresolved)


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
    et, source, w_sets, w_index, _theta, delta_theta, tau_syn, _ = _layer_args(
        events, weights, params, jnp.zeros((), weights.dtype)
    )
    d_weights, d_times = _backward_kernel(1)(
        et,
        source,
        w_sets,
        w_index,
        w_index,
        delta_theta,
        tau_syn,
        cot_times.astype(weights.dtype),
        forward.times,
        forward.slope,
        forward.event_index.astype(jnp.int32),
        forward.n_spikes.astype(jnp.int32),
    )
    return d_times, d_weights[0]


# --------------------------------------------------------------------------------------
# Differentiable spike times with a gradient that batches (EventBackend.spike_times).
#
# A custom_vjp cannot be given a batching rule: vmap of a custom_vjp runs the vmapped bwd
# and then sums the per-sample weight gradients of unbatched weights, so ``grad(vmap(...))``
# would build one [n_in, N] gradient per vmapped sample. Here the spike times are a
# custom_jvp whose tangent is the linear primitive ``snnjax_lif_tangent``: its batching
# rule folds a vmap into the kernel's batch *before* the transpose, so the transpose (the
# backward kernel) of ``grad(vmap(...))`` writes one gradient per weight set, while
# ``vmap(grad(...))`` transposes per sample inside the vmap (per-sample gradients, as asked).
# --------------------------------------------------------------------------------------

_TANGENT = Primitive("snnjax_lif_tangent")
# operands: event_times, source, weights [S], w_index, delta_theta, tau_syn, times, slope,
# event_index, n_spikes (residuals), d_event_times, d_weights (the linear inputs)
_N_RESIDUALS = 10


def _tangent_abstract(*avals):
    times = avals[6]
    return jax.core.ShapedArray(times.shape, times.dtype)


def _tangent_impl(*args):
    raise NotImplementedError(
        "forward-mode differentiation (jax.jvp / jax.linearize applied forward) of the "
        "compiled LIF layer is not implemented; use reverse mode (jax.grad, jax.vjp), as "
        "with the other event backends"
    )


def _tangent_transpose(cot, *operands):
    et, source, weights, w_index, delta_theta, tau_syn, *spikes = operands[:_N_RESIDUALS]
    d_et, d_w = operands[_N_RESIDUALS:]
    if type(cot) is ad.Zero:
        cot = jnp.zeros(spikes[0].shape, spikes[0].dtype)
    d_weights, d_times = _backward_kernel(weights.shape[0])(
        et, source, weights, w_index, w_index, delta_theta, tau_syn, cot, *spikes
    )
    return [None] * _N_RESIDUALS + [
        d_times if ad.is_undefined_primal(d_et) else None,
        d_weights if ad.is_undefined_primal(d_w) else None,
    ]


def _tangent_batch(args, dims):
    axis_size = next(x.shape[d] for x, d in zip(args, dims, strict=True) if d is not None)
    args = [x if d in (None, 0) else jnp.moveaxis(x, d, 0) for x, d in zip(args, dims, strict=True)]
    batched = [d is not None for d in dims]
    weights, w_index, d_w = args[2], args[3], args[11]
    sets_batched = batched[2] or batched[11]
    if sets_batched:  # the weights and their tangent as [V, S, n_in, N]
        weights = weights if batched[2] else jnp.broadcast_to(weights, d_w.shape)
        d_w = d_w if batched[11] else jnp.broadcast_to(d_w, weights.shape)
        d_w = d_w.reshape((-1,) + d_w.shape[2:])
    weights, w_index = _fold_sets(weights, w_index, sets_batched, batched[3], axis_size)
    params = _fold_params(args[4:6], batched[4:6], axis_size, args[0].shape[-2])
    folded = _fold_some(args, batched, axis_size, (0, 1, 6, 7, 8, 9, 10))
    out = _TANGENT.bind(*folded[:2], weights, w_index, *params, *folded[2:], d_w)
    return unfold_batch(out, axis_size), 0


_TANGENT.def_impl(_tangent_impl)
_TANGENT.def_abstract_eval(_tangent_abstract)
ad.primitive_transposes[_TANGENT] = _tangent_transpose
batching.primitive_batchers[_TANGENT] = _tangent_batch
mlir.register_lowering(_TANGENT, mlir.lower_fun(_tangent_impl, multiple_results=False))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _spike_times(max_spikes, event_times, source, weights, w_index, *params):
    return _forward_kernel(max_spikes, full=False)(event_times, source, weights, w_index, *params)


def _spike_times_jvp(max_spikes, primals, tangents):
    event_times, source, weights, w_index, _theta, delta_theta, tau_syn, _t_max = primals
    d_et, _, d_w = tangents[:3]
    times, slope, index, n_spikes, n_unresolved = _forward_kernel(max_spikes)(*primals)
    no_count = np.zeros(n_spikes.shape, jax.dtypes.float0)
    primal_out = (times, n_spikes, n_unresolved)
    if isinstance(d_et, SymbolicZero) and isinstance(d_w, SymbolicZero):
        return primal_out, (jnp.zeros_like(times), no_count, no_count)
    d_et = jnp.zeros_like(event_times) if isinstance(d_et, SymbolicZero) else d_et
    d_w = jnp.zeros_like(weights) if isinstance(d_w, SymbolicZero) else d_w
    residuals = (event_times, source, weights, w_index, delta_theta, tau_syn)
    d_times = _TANGENT.bind(*residuals, times, slope, index, n_spikes, d_et, d_w)
    return primal_out, (d_times, no_count, no_count)


_spike_times.defjvp(_spike_times_jvp, symbolic_zeros=True)


def spike_times(
    events: Events, weights: jax.Array, params: LIFParams, t_max: jax.Array, max_spikes: int
) -> tuple[jax.Array, jax.Array]:
    """Differentiable spike times (:attr:`EventBackend.spike_times`): the compiled forward,
    and the compiled backward as the transpose of its tangent; batches under ``vmap``.

    ``vmap`` over samples (shared weights) and over weights (``[V, n_in, N]``, e.g. noise
    seeds), nested or not, and ``grad``/``jit`` in any order, run one forward and one
    backward call; ``grad`` of a ``vmap`` with shared weights writes one weight gradient.
    Gradients w.r.t. ``params`` and ``t_max`` are zero (as for the ``custom_vjp`` of the
    other backends); forward-mode ``jax.jvp`` is not implemented.

    Returns:
      ``(times [B, N, K], n_spikes [B, N] int32, n_unresolved [B, N] int32)``.
    """
    _require()
    return _spike_times(int(max_spikes), *_layer_args(events, weights, params, t_max))


BACKEND = EventBackend(
    name="ffi",
    sort_events=sort_events,
    forward=forward,
    backward=backward,
    spike_times=spike_times,
    supports=supports,
    available=available,
    platforms=("cpu",),
)
