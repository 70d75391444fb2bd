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

__all__ = ["LIFParams", "checkify_layer_inputs", "checkify_lif_params", "checkify_weights"]


_PARAM_SHAPE = "a scalar or an array of shape [n_out]"


def _is_placeholder(x: Any) -> bool:
    """Values that stand for a parameter without holding one: tracers (under ``jit``,
    ``grad``, ``vmap``) and ``jax.ShapeDtypeStruct`` (``jax.eval_shape``). Not validated."""
    return isinstance(x, (jax.core.Tracer, jax.ShapeDtypeStruct))


def _as_param(name: str, value: Any) -> Any:
    """``value`` converted (lists/tuples -> arrays) and validated as parameter ``name``.

    Concrete values must be real numbers (not bool, str, complex), scalar or 1-D
    (``[n_out]``), finite and > 0. Tracers are returned unchecked (use
    :func:`snnjax.checkify_lif_params` under ``jit``). Python and NumPy scalars and arrays
    are kept as given (a Python float stays weakly typed); lists and tuples become NumPy
    arrays, or JAX arrays when they hold tracers.

    Raises:
      TypeError: not a real number or array of real numbers.
      ValueError: more than one dimension, empty, or a value that is not finite and > 0.
    """
    if _is_placeholder(value):
        return value
    given = value
    if isinstance(value, (list, tuple)):
        if any(_is_placeholder(v) for v in value):
            return jax.numpy.asarray(value)
        value = _sequence_array(name, value)
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(
            f"LIFParams.{name} must be a number ({_PARAM_SHAPE}), got "
            f"{type(value).__name__} {value!r}"
        )
    try:
        arr = np.asarray(value)
    except Exception as exc:  # e.g. an object NumPy cannot convert
        raise TypeError(
            f"LIFParams.{name} must be {_PARAM_SHAPE} of real numbers, got "
            f"{type(value).__name__} ({exc})"
        ) from None
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"LIFParams.{name} must be {_PARAM_SHAPE} of real numbers, got dtype {arr.dtype}"
        )
    if arr.ndim > 1 or (arr.ndim == 1 and arr.size == 0):
        raise ValueError(f"LIFParams.{name} must be {_PARAM_SHAPE}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"LIFParams.{name} must be finite and > 0, got {given!r}")
    return value


def _sequence_array(name: str, value: list | tuple) -> np.ndarray:
    """A list/tuple of numbers as a NumPy array (integers become floats)."""
    if any(isinstance(v, (bool, np.bool_, str, bytes)) or v is None for v in value):
        raise TypeError(f"LIFParams.{name} must be {_PARAM_SHAPE} of real numbers, got {value!r}")
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged
        raise ValueError(
            f"LIFParams.{name} must be {_PARAM_SHAPE}, got the ragged sequence {value!r}"
        ) from None
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)
    return arr


@dataclasses.dataclass(frozen=True)
class LIFParams:
    """Physical parameters of a layer of LIF neurons (traced: sweeping them does not recompile).

    Args:
      tau_syn: synaptic time constant ``tau_s`` in seconds (> 0). Scalar or ``[n_out]``.
      theta: firing threshold (> 0). Scalar or ``[n_out]``.
      delta_theta: subtractive reset applied to the membrane at every spike (> 0);
        ``None`` means ``theta`` (the papers' choice: reset to rest).

    Every concrete value is checked when the params are made: a real number or a 1-D
    array/list/tuple of them (lists and tuples are converted to NumPy arrays first), finite
    and > 0; ``bool``, strings and complex numbers raise ``TypeError``, bad values and
    arrays of more than one dimension ``ValueError``, each naming the field. Traced values
    (under ``jit``) cannot be checked here: use :func:`snnjax.checkify_lif_params`.
    Whether a ``[n_out]`` field fits the layer is checked by :meth:`check_n_out`.
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
        tau_syn = _as_param("tau_syn", tau_syn)
        theta = _as_param("theta", theta)
        delta_theta = theta if delta_theta is None else _as_param("delta_theta", delta_theta)
        if tau_mem is not None:
            tau_mem = _as_param("tau_mem", tau_mem)
            if (
                not _is_placeholder(tau_mem)
                and not _is_placeholder(tau_syn)
                and not _tau_mem_matches(tau_mem, tau_syn)
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
        """Membrane time constant, ``2 * tau_syn`` (seconds), of the same kind as ``tau_syn``."""
        return 2 * self.tau_syn

    def check_n_out(self, n_out: int) -> None:
        """Raise ``ValueError`` unless every per-neuron field fits a layer of ``n_out`` neurons.

        Each of ``tau_syn``, ``theta``, ``delta_theta`` must be a scalar or of shape
        ``[n_out]``; the message names the field (shapes are known under ``jit`` too).

        Example:
          >>> LIFParams(theta=[0.2, 0.3]).check_n_out(3)
          Traceback (most recent call last):
          ...
          ValueError: LIFParams.theta has shape (2,), expected a scalar or [n_out] = (3,)
        """
        for name in _FIELDS:
            shape = tuple(np.shape(getattr(self, name)))
            if shape not in ((), (n_out,)):
                raise ValueError(
                    f"LIFParams.{name} has shape {shape}, expected a scalar or [n_out] = ({n_out},)"
                )


def _tau_mem_matches(tau_mem: Any, tau_syn: Any) -> bool:
    """``tau_mem == 2 * tau_syn`` (relative tolerance 1e-6), shapes broadcasting."""
    try:
        return bool(np.allclose(np.asarray(tau_mem), 2 * np.asarray(tau_syn), rtol=1e-6))
    except ValueError:  # shapes that do not broadcast
        return False


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


# ------------------------------------------------------------------ checks under jit


def checkify_lif_params(params: LIFParams, n_out: int | None = None) -> None:
    """Traced checks of :class:`LIFParams` for ``jax.experimental.checkify``.

    Under ``jit`` the values of the params are unknown when they are made, so
    :class:`LIFParams` cannot check them; a non-positive or non-finite ``tau_syn``,
    ``theta`` or ``delta_theta`` then gives meaningless spikes. Call this inside the
    checkified function: each field must be finite and > 0 (the error names the field).
    Shapes are static and checked at once (``ValueError``), against ``n_out`` if given.

    Args:
      params: the layer's :class:`LIFParams` (traced or concrete).
      n_out: optional number of output neurons the per-neuron fields must fit.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jax.experimental import checkify
      >>> def f(tau):
      ...     checkify_lif_params(LIFParams(tau_syn=tau))
      ...     return tau
      >>> err, _ = checkify.checkify(jax.jit(f))(jnp.float32(-0.1))
      >>> "LIFParams.tau_syn must be finite and > 0" in err.get()
      True
    """
    from jax.experimental import checkify

    if not isinstance(params, LIFParams):
        raise TypeError(f"params must be snnjax.LIFParams, got {type(params).__name__}")
    if n_out is not None:
        params.check_n_out(n_out)
    for name in _FIELDS:
        value = jax.numpy.asarray(getattr(params, name))
        ok = jax.numpy.all(jax.numpy.isfinite(value) & (value > 0))
        checkify.check(ok, f"LIFParams.{name} must be finite and > 0")


def checkify_weights(weights: ArrayLike, name: str = "weights") -> None:
    """Traced check that ``weights`` are finite, for ``jax.experimental.checkify``.

    :func:`snnjax.lif_layer` rejects NaN/inf weights only when they are concrete; under
    ``jit`` they would give junk spikes. The static shape (``[n_in, n_out]``) and float
    dtype are checked at once (``ValueError`` / ``TypeError``).

    Args:
      weights: ``[n_in, n_out]`` float weights (traced or concrete).
      name: what to call the array in the message.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jax.experimental import checkify
      >>> def f(w):
      ...     checkify_weights(w)
      ...     return w
      >>> err, _ = checkify.checkify(jax.jit(f))(jnp.array([[1.0, jnp.nan]]))
      >>> "weights contain NaN or inf" in err.get()
      True
    """
    from jax.experimental import checkify

    w = jax.numpy.asarray(weights)
    if not jax.numpy.issubdtype(w.dtype, jax.numpy.floating):
        raise TypeError(f"{name} must be a float array, got {w.dtype}")
    if w.ndim != 2:
        raise ValueError(f"{name} must be [n_in, n_out], got shape {w.shape}")
    checkify.check(jax.numpy.all(jax.numpy.isfinite(w)), f"{name} contain NaN or inf")


def checkify_layer_inputs(
    input_times: ArrayLike, weights: ArrayLike, params: LIFParams, t_max: ArrayLike
) -> None:
    """All traced checks of one :func:`snnjax.lif_layer` call's arguments, for ``checkify``.

    Runs :func:`snnjax.checkify_spike_times` on ``input_times``, :func:`checkify_weights`,
    :func:`checkify_lif_params` (with ``n_out = weights.shape[1]``) and checks that
    ``t_max > 0`` (NaN fails; ``+inf`` passes, as in :func:`snnjax.lif_layer`).

    Args:
      input_times: ``[..., n_in, K_in]`` float spike trains (s).
      weights: ``[n_in, n_out]`` float.
      params: the layer's :class:`LIFParams`.
      t_max: end of the simulation (s).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jax.experimental import checkify
      >>> def f(w):
      ...     checkify_layer_inputs(jnp.zeros((1, 1)), w, LIFParams(), 1.0)
      ...     return w
      >>> checkify.checkify(jax.jit(f))(jnp.ones((1, 2)))[0].get() is None
      True
    """
    from jax.experimental import checkify

    from snnjax.spikes import checkify_spike_times

    checkify_spike_times(jax.numpy.asarray(input_times), "input_times")
    checkify_weights(weights)
    checkify_lif_params(params, jax.numpy.shape(weights)[1])
    t = jax.numpy.asarray(t_max)
    checkify.check(jax.numpy.all(t > 0), "t_max must be > 0")
