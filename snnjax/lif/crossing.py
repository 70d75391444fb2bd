"""The closed-form threshold crossing of the LIF neuron (SPEC §2).

With ``tau_mem = 2 tau_syn`` and ``z = exp((t - t_ref) / tau_mem)`` (so that
``z**2 = exp((t - t_ref) / tau_syn)``), the membrane potential between two input events
reaches ``theta`` where ``c z**2 - b z + a = 0``, with (all relative to a reference time
``t_ref``, usually the last input event)::

    a = sum w exp((t_in - t_ref) / tau_syn)
    b = sum w exp((t_in - t_ref) / tau_mem) - kappa sum_spikes exp((t_out - t_ref) / tau_mem)
    c = theta / tau_mem,   kappa = delta_theta / tau_mem.

The first upward crossing is the smaller root, evaluated in the cancellation-free form
``z* = 2 a / (b + sqrt(b**2 - 4 a c))``; ``t* = t_ref + tau_mem ln z*``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["crossing_z"]


def crossing_z(a: ArrayLike, b: ArrayLike, c: ArrayLike) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Smaller positive root of ``c z**2 - b z + a = 0`` and the slope term ``x``.

    Args:
      a: ``sum w exp((t_in - t_ref) / tau_syn)`` (any shape).
      b: ``sum w exp((t_in - t_ref) / tau_mem) - kappa * sum exp((t_out - t_ref) / tau_mem)``.
      c: ``theta / tau_mem``.

    Returns:
      ``(z, x, ok)``: ``z = 2a / (b + x)`` relative to ``t_ref`` (``t = t_ref + tau_mem ln z``),
      ``x = sqrt(b**2 - 4ac)`` (``du/dt`` at the crossing is proportional to ``x / z``), and
      ``ok`` (bool) where a real, positive crossing exists. Where ``ok`` is False, ``z`` is 1
      and ``x`` is 1, so that nothing downstream (``log``, ``1/x``) produces NaN or inf.

    Example:
      >>> z, x, ok = crossing_z(1.0, 3.0, 2.0)  # 2 z**2 - 3 z + 1 = 0: roots 1/2 and 1
      >>> float(z), float(x), bool(ok)
      (0.5, 1.0, True)
    """
    disc = b * b - 4.0 * a * c
    x = jnp.sqrt(jnp.maximum(disc, 0.0))
    denom = b + x
    ok = (disc >= 0) & (denom > 0) & (a > 0)
    safe_denom = jnp.where(ok, denom, 1.0)
    z = jnp.where(ok, 2.0 * a / safe_denom, 1.0)
    ok = ok & (z > 0)
    return z, jnp.where(ok, x, 1.0), ok
