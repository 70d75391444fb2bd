"""The registered event backends by name, and the module that defines each.

This table imports nothing (no JAX), so that the command line can offer and check backend
names instantly; :mod:`snnjax.lif.backends` imports a backend's module only when it is
used. Adding a backend: one line in :data:`REGISTRY` (see ``docs/extending.md``).
"""

from __future__ import annotations

__all__ = ["AUTO", "ENV_ALIASES", "ENV_VAR", "PORTABLE", "REGISTRY", "backend_names"]

#: name -> module defining ``BACKEND`` (an :class:`snnjax.lif.backends.EventBackend`).
REGISTRY: dict[str, str] = {
    "ffi": "snnjax.lif.backends.ffi",  # compiled C++ event loop (XLA FFI), CPU
    "loop": "snnjax.lif.backends.loop",  # pure-JAX event loop, any platform
    "parallel": "snnjax.lif.backends.parallel",  # parallel in time, GPU/TPU default
}
#: The backend ``"auto"`` falls back to on platforms no restricted backend serves.
PORTABLE = "loop"
#: The name that picks a backend per platform.
AUTO = "auto"
#: The environment variable naming the default backend (read by
#: :func:`snnjax.lif.backends.requested_backend` only).
ENV_VAR = "SNNJAX_KERNEL"
#: The values ``SNNJAX_KERNEL`` took before backends had names.
ENV_ALIASES = {"cpu": "ffi", "xla": "loop"}


def backend_names() -> tuple[str, ...]:
    """Names of the registered backends, e.g. ``("ffi", "loop")``."""
    return tuple(REGISTRY)
