"""LIF neuron parameters (:class:`LIFParams`).

Units: times in seconds, weights in units of the membrane potential per unit of synaptic
current (the post-synaptic potential of one input spike of weight ``w`` is
``tau_mem * w * (exp(-s/tau_mem) - exp(-s/tau_syn))``, ``s`` seconds after the spike).

The neuron (SPEC §1, Göltz et al. 2021, Bacho & Chu 2023) is a current-based LIF with
``tau_mem = 2 * tau_syn``, threshold ``theta`` and subtractive reset ``delta_theta``; the
ratio of the time constants is what makes its threshold crossing a closed form
(:func:`snnjax.lif.crossing_z`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
from jax.typing import ArrayLike

__all__ = ["LIFParams"]


def _is_concrete(x: Any) -> bool:
    """True for concrete numbers/arrays (validated); False for tracers and pytree placeholders."""
    if isinstance(x, jax.core.Tracer):
        return False
    return isinstance(x, (int, float, np.ndarray, np.generic, jax.Array)) and not isinstance(
        x, bool
    )


@dataclasses.dataclass(frozen=True)
class LIFParams:
    """Physical parameters of a layer of LIF neurons (traced: sweeping them does not recompile).

    Args:
      tau_syn: synaptic time constant ``tau_s`` in seconds (> 0). Scalar or ``[n_out]``.
      theta: firing threshold (> 0). Scalar or ``[n_out]``.
      delta_theta: subtractive reset applied to the membrane at every spike (> 0);
        ``None`` means ``theta`` (the papers' choice: reset to rest).
      tau_mem: optional; the closed form needs ``tau_mem == 2 * tau_syn``, anything else
        raises ``ValueError``. Read it back as ``params.tau_mem``.

    Example:
      >>> import snnjax
      >>> p = snnjax.LIFParams(tau_syn=0.13, theta=0.2)
      >>> round(float(p.tau_mem), 2), float(p.delta_theta)
      (0.26, 0.2)
    """

    tau_syn: ArrayLike = 0.13
    theta: ArrayLike = 1.0
    delta_theta: ArrayLike | None = None

    def __init__(
        self,
        tau_syn: ArrayLike = 0.13,
        theta: ArrayLike = 1.0,
        delta_theta: ArrayLike | None = None,
        tau_mem: ArrayLike | None = None,
    ):
        if delta_theta is None:
            delta_theta = theta
        for name, value in (("tau_syn", tau_syn), ("theta", theta), ("delta_theta", delta_theta)):
            if _is_concrete(value):
                arr = np.asarray(value)
                if not np.issubdtype(arr.dtype, np.number):
                    raise TypeError(f"LIFParams.{name} must be numeric, got {arr.dtype}")
                if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                    raise ValueError(f"LIFParams.{name} must be finite and > 0, got {value!r}")
        if (
            tau_mem is not None
            and _is_concrete(tau_mem)
            and _is_concrete(tau_syn)
            and not np.allclose(np.asarray(tau_mem), 2 * np.asarray(tau_syn), rtol=1e-6)
        ):
            raise ValueError(
                f"the closed-form LIF needs tau_mem == 2 * tau_syn; got tau_mem={tau_mem!r}, "
                f"tau_syn={tau_syn!r}"
            )
        object.__setattr__(self, "tau_syn", tau_syn)
        object.__setattr__(self, "theta", theta)
        object.__setattr__(self, "delta_theta", delta_theta)

    @property
    def tau_mem(self) -> ArrayLike:
        """Membrane time constant, ``2 * tau_syn`` (seconds)."""
        return 2 * self.tau_syn


_FIELDS = ("tau_syn", "theta", "delta_theta")


def _flatten_with_keys(p: LIFParams):
    return [(jax.tree_util.GetAttrKey(name), getattr(p, name)) for name in _FIELDS], None


def _unflatten(_, leaves) -> LIFParams:
    """Rebuild without ``__init__``: JAX unflattens with leaves that are no parameters
    (tracers, placeholders, the zero cotangents of the ``custom_vjp``), never validated."""
    p = object.__new__(LIFParams)
    for name, value in zip(_FIELDS, leaves, strict=True):
        object.__setattr__(p, name, value)
    return p


jax.tree_util.register_pytree_with_keys(
    LIFParams,
    _flatten_with_keys,
    _unflatten,
    flatten_func=lambda p: ([getattr(p, name) for name in _FIELDS], None),
)
