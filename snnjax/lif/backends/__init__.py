"""Event backends: the interface, the registry and the choice of a backend.

An event backend runs the event loop of a LIF layer: it merges the input spikes into
sorted :class:`~snnjax.lif.events.Events`, computes the exact spike times (forward) and
their exact gradients (backward). All backends compute the same function (the test suite
holds each of them to the float64 oracle :mod:`snnjax.lif.reference`); they differ in
where and how fast they run. A backend is an :class:`EventBackend`, a small immutable
record of pure functions (in the style of optax's ``GradientTransformation``); it is a
static argument of the ``custom_vjp`` (:func:`snnjax.lif.grad.event_spike_times`).

Registered backends (:func:`backend_names`):

* ``"ffi"`` (:mod:`snnjax.lif.backends.ffi`): the compiled C++ event loop (XLA FFI custom
  calls), CPU only, built with the system compiler on first use; float32/float64 and a
  scalar ``tau_syn``.
* ``"loop"`` (:mod:`snnjax.lif.backends.loop`): the event loop in pure JAX
  (``lax.while_loop`` over the input events), any platform (the portable fallback).
* ``"parallel"`` (:mod:`snnjax.lif.backends.parallel`): pure JAX, parallel in time
  (threshold queries over all events at once, sequential only in the spikes of a
  neuron; a backward without an event loop), any platform; the automatic choice on GPU
  (``cuda``, ``rocm``) and TPU.

Choosing (:func:`resolve_backend`, called by :func:`snnjax.lif_layer`): ``backend`` is a
registered name, an :class:`EventBackend`, ``"auto"`` or ``None``. ``None`` means the
default named by the environment variable ``SNNJAX_KERNEL`` (``auto``, ``ffi``, ``loop``;
the old spellings ``cpu`` = ``ffi`` and ``xla`` = ``loop`` are accepted), ``"auto"`` if it
is unset. ``"auto"`` picks per platform *inside the traced program*
(:func:`jax.lax.platform_dependent`): each backend restricted to some platforms
(``"ffi"``: CPU; ``"parallel"``: GPU and TPU) runs there if it is available and supports
the layer's dtype and parameters, and ``"loop"`` runs everywhere else. The platform is
therefore the one the computation is lowered for (not ``jax.default_backend()`` at trace
time), and only that branch is compiled.

Adding a backend: write a module that defines ``BACKEND = EventBackend(...)`` and add one
line to ``REGISTRY`` in :mod:`snnjax.lif.backend_table`; the parametrised suite in
``tests/lif`` then runs on it (see ``docs/extending.md``).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import os
from collections.abc import Callable
from typing import Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import DTypeLike

# The name table imports nothing, so that the command line reads it instantly.
from snnjax.lif.backend_table import AUTO, ENV_ALIASES, ENV_VAR, PORTABLE, REGISTRY, backend_names
from snnjax.lif.events import Events
from snnjax.lif.forward import EventForward
from snnjax.lif.params import LIFParams

__all__ = [
    "AUTO",
    "ENV_VAR",
    "EventBackend",
    "available_backends",
    "backend_name",
    "backend_names",
    "by_platform",
    "get_backend",
    "requested_backend",
    "resolve_backend",
]


class SortEvents(Protocol):
    """Type of :attr:`EventBackend.sort_events`."""

    def __call__(
        self, input_times: jax.Array, t_max: jax.Array, n_events: int
    ) -> tuple[Events, jax.Array]: ...


class Forward(Protocol):
    """Type of :attr:`EventBackend.forward`."""

    def __call__(
        self,
        events: Events,
        weights: jax.Array,
        params: LIFParams,
        t_max: jax.Array,
        max_spikes: int,
    ) -> EventForward: ...


class SpikeTimes(Protocol):
    """Type of :attr:`EventBackend.spike_times`."""

    def __call__(
        self,
        events: Events,
        weights: jax.Array,
        params: LIFParams,
        t_max: jax.Array,
        max_spikes: int,
    ) -> tuple[jax.Array, jax.Array, jax.Array]: ...


class Backward(Protocol):
    """Type of :attr:`EventBackend.backward`."""

    def __call__(
        self,
        events: Events,
        weights: jax.Array,
        params: LIFParams,
        forward: EventForward,
        cot_times: jax.Array,
    ) -> tuple[jax.Array, jax.Array]: ...


def _supports_everything(dtype: DTypeLike, params: LIFParams) -> bool:
    del dtype, params
    return True


def _always_available() -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class EventBackend:
    """An event backend: pure functions of arrays (traced under ``jit``, ``grad``, ``vmap``).

    Shapes: ``B`` samples, ``n_in`` inputs with ``K_in`` slots, ``E`` event slots, ``N``
    neurons, ``K`` output slots. ``params`` is a :class:`~snnjax.lif.LIFParams` whose
    fields are arrays of the layer's dtype, scalars or ``[N]``; ``t_max`` a scalar array.

    Attributes:
      name: the registry name (shown in errors and recorded in run directories).
      sort_events: ``(input_times [B, n_in, K_in], t_max, n_events: int) -> (Events [B, E],
        n_overflow [B] int32)``: the earliest ``E = n_events`` spikes before ``t_max``
        sorted by (time, slot), ``inf`` padded; ``n_overflow`` counts the valid events that
        did not fit. Differentiable w.r.t. ``input_times`` (the gradient of each event time
        goes to its slot).
      forward: ``(events, weights [n_in, N], params, t_max, max_spikes: int) ->``
        :class:`~snnjax.lif.forward.EventForward` (spike times and what the backward needs).
        Spike counts saturate at ``2**31 - 1`` and crossings the dtype cannot resolve are
        counted in ``n_unresolved``, exactly as the ``"loop"`` backend does (see
        ``docs/model.md``, "Precision and limits").
      backward: ``(events, weights, params, forward, cot_times [B, N, K]) ->
        (d_event_times [B, E], d_weights [n_in, N])``, the exact vector-Jacobian product
        of the spike times (SPEC §4; the ``custom_vjp`` of
        :func:`snnjax.lif.grad.event_spike_times`).
      supports: ``(dtype, params) -> bool``: whether the backend computes a layer of this
        dtype and these (concrete-shaped) parameters.
      available: ``() -> bool``: whether the backend can run in this installation (e.g.
        its library builds); called once per trace, should cache.
      platforms: the JAX platforms it runs on (e.g. ``("cpu",)``), ``None`` = all. The
        automatic choice uses a restricted backend on its platforms only.
      spike_times: optional ``(events, weights, params, t_max, max_spikes: int) ->
        (times [B, N, K], n_spikes [B, N] int32, n_unresolved [B, N] int32)``,
        differentiable w.r.t. ``events.times`` and ``weights``: a backend's own
        differentiation with batching rules (``"ffi"``: ``vmap`` folds into the kernel's
        batch, also under ``grad``). ``None``: the
        generic ``custom_vjp`` of ``forward`` and ``backward``
        (:func:`snnjax.lif.grad.event_spike_times`).
    """

    name: str
    sort_events: SortEvents
    forward: Forward
    backward: Backward
    supports: Callable[[DTypeLike, LIFParams], bool] = _supports_everything
    available: Callable[[], bool] = _always_available
    platforms: tuple[str, ...] | None = None
    spike_times: SpikeTimes | None = None


def get_backend(name: str) -> EventBackend:
    """The registered backend ``name``.

    Raises:
      ValueError: unknown name (the message lists the registered ones).
    """
    if name not in REGISTRY:
        raise ValueError(
            f"unknown event backend {name!r}; registered: "
            f"{', '.join(map(repr, REGISTRY))} (or 'auto')"
        )
    return importlib.import_module(REGISTRY[name]).BACKEND


def available_backends() -> tuple[str, ...]:
    """Names of the registered backends that can run here (e.g. ``"ffi"`` needs a C++
    compiler)."""
    return tuple(n for n in REGISTRY if get_backend(n).available())


def requested_backend(backend: str | EventBackend | None = None) -> str | EventBackend:
    """Normalise a ``backend`` argument: a registered name, ``"auto"``, or the object.

    ``None`` is the documented default: the environment variable ``SNNJAX_KERNEL`` (read
    here and nowhere else; ``cpu`` and ``xla`` are accepted for ``ffi`` and ``loop``),
    ``"auto"`` when unset.

    Raises:
      ValueError: an unknown name (the message lists the registered ones).
      TypeError: neither a string, an :class:`EventBackend` nor ``None``.
    """
    if isinstance(backend, EventBackend):
        return backend
    origin = ""
    if backend is None:
        raw = os.environ.get(ENV_VAR, "").strip().lower() or AUTO
        backend = ENV_ALIASES.get(raw, raw)
        origin = f" (from {ENV_VAR}={raw!r})"
    if not isinstance(backend, str):
        raise TypeError(
            f"backend must be a name, an EventBackend or None, got {type(backend).__name__}"
        )
    if backend != AUTO and backend not in REGISTRY:
        raise ValueError(
            f"unknown event backend {backend!r}{origin}; registered: "
            f"{', '.join(map(repr, REGISTRY))} (or 'auto')"
        )
    return backend


def _automatic(dtype: DTypeLike, params: LIFParams) -> tuple[dict[str, EventBackend], EventBackend]:
    """The platform-restricted backends that serve this layer, and the portable default."""
    per_platform: dict[str, EventBackend] = {}
    for name in REGISTRY:
        candidate = get_backend(name)
        if (
            candidate.platforms is None
            or name == PORTABLE
            or not candidate.supports(dtype, params)
            or not candidate.available()
        ):
            continue
        for platform in candidate.platforms:
            per_platform.setdefault(platform, candidate)
    return per_platform, get_backend(PORTABLE)


def resolve_backend(
    backend: str | EventBackend | None, dtype: DTypeLike, params: LIFParams
) -> EventBackend:
    """The backend a layer of ``dtype`` and ``params`` runs with (see the module doc).

    Args:
      backend: a registered name, ``"auto"``, an :class:`EventBackend`, or ``None`` (the
        ``SNNJAX_KERNEL`` default, see :func:`requested_backend`).
      dtype: the layer's float dtype.
      params: its :class:`~snnjax.lif.LIFParams` (only their shapes matter).

    Returns:
      The backend; for ``"auto"`` a platform-dependent one (:func:`by_platform`).

    Raises:
      ValueError: unknown name, or a named backend that does not support this layer.
      RuntimeError: a named backend that cannot run here (e.g. no C++ compiler).
    """
    requested = requested_backend(backend)
    if requested == AUTO:
        per_platform, default = _automatic(dtype, params)
        return by_platform(default, **per_platform)
    chosen = requested if isinstance(requested, EventBackend) else get_backend(requested)
    if not chosen.supports(dtype, params):
        raise ValueError(
            f"the {chosen.name!r} event backend does not support this layer (dtype "
            f"{np.dtype(dtype).name}, tau_syn shape {jnp.shape(params.tau_syn)}); use "
            f"backend='auto' or one of {', '.join(map(repr, REGISTRY))}"
        )
    if not chosen.available():
        raise RuntimeError(
            f"the {chosen.name!r} event backend is unavailable here (see the "
            "warning above); use backend='loop' or 'auto'"
        )
    return chosen


def backend_name(
    backend: str | EventBackend | None = None,
    *,
    platform: str | None = None,
    dtype: DTypeLike = jnp.float32,
    params: LIFParams | None = None,
) -> str:
    """Name of the backend that runs on ``platform`` (for logs and run records).

    Args:
      backend: as for :func:`resolve_backend`.
      platform: a JAX platform (``"cpu"``, ``"gpu"`` (= ``"cuda"``), ``"cuda"``,
        ``"rocm"``, ``"tpu"``); default: that of ``jax.default_backend()``.
      dtype, params: the layer's (default: float32, scalar ``tau_syn``).

    Example:
      >>> backend_name("loop")
      'loop'
    """
    requested = requested_backend(backend)
    if isinstance(requested, EventBackend):
        return requested.name
    if requested != AUTO:
        return requested
    per_platform, default = _automatic(dtype, LIFParams() if params is None else params)
    platform = jax.default_backend() if platform is None else platform
    if platform == "gpu":  # jax.default_backend()'s name; platform_dependent's are these
        platform = "cuda" if "cuda" in per_platform else "rocm"
    return per_platform.get(platform, default).name


def _bound_spike_times(backend: EventBackend, max_spikes: int, *args):
    from snnjax.lif.grad import event_spike_times

    return event_spike_times(*args, max_spikes, backend)


@functools.cache
def by_platform(default: EventBackend, **per_platform: EventBackend) -> EventBackend:
    """A backend that runs ``per_platform[p]`` on platform ``p`` and ``default`` elsewhere.

    Each function stages out all branches with :func:`jax.lax.platform_dependent`; only
    the branch of the platform the computation is lowered for is compiled. Cached, so
    equal arguments give the same (hashable, jit-static) object.

    Example:
      >>> from snnjax.lif.backends import get_backend
      >>> by_platform(get_backend("loop")).name  # nothing platform-specific
      'loop'
    """
    if not per_platform:
        return default
    branches = tuple(per_platform.items())

    def dispatch(method: str, bind: Callable[[Callable], Callable], *args):
        return jax.lax.platform_dependent(
            *args,
            default=bind(getattr(default, method)),
            **{p: bind(getattr(b, method)) for p, b in branches},
        )

    def sort_events(input_times, t_max, n_events):
        return dispatch("sort_events", lambda f: lambda x, t: f(x, t, n_events), input_times, t_max)

    def forward(events, weights, params, t_max, max_spikes):
        return dispatch(
            "forward", lambda f: lambda *a: f(*a, max_spikes), events, weights, params, t_max
        )

    def backward(events, weights, params, forward, cot_times):
        return dispatch("backward", lambda f: f, events, weights, params, forward, cot_times)

    def spike_times(events, weights, params, t_max, max_spikes):
        return jax.lax.platform_dependent(
            events,
            weights,
            params,
            t_max,
            default=functools.partial(_bound_spike_times, default, max_spikes),
            **{p: functools.partial(_bound_spike_times, b, max_spikes) for p, b in branches},
        )

    names = ", ".join(f"{p}={b.name}" for p, b in branches)
    own = any(b.spike_times is not None for b in (default, *per_platform.values()))
    return EventBackend(
        name=f"auto({names}, default={default.name})",
        sort_events=sort_events,
        forward=forward,
        backward=backward,
        supports=default.supports,
        spike_times=spike_times if own else None,
    )
