r"""Readout losses and predictions on output spike trains (SPEC §5).

All functions take output spike times ``times`` of shape ``[..., n_classes, K]`` (float,
seconds, sorted ascending along the last axis, ``+inf`` = empty slot) and, for the
losses, integer ``labels`` of shape ``[...]``. Losses are returned per sample, shape
``[...]``: reduce them (``jnp.mean``) yourself.

* :func:`spike_count_loss` — multi-spike networks (Bacho & Chu 2023): squared error
  between spike counts and target counts, with the SPEC surrogate gradient.
* :func:`count_cross_entropy` — multi-spike networks, snnjax's extension (not in the paper):
  softmax cross-entropy over spike counts, with the same surrogate gradient.
* :func:`ttfs_cross_entropy` — single-spike / TTFS networks (Göltz et al. 2021, "Fast &
  Deep"): softmax cross-entropy over negative first-spike times, with its exact gradient.
* :func:`predict_from_counts`, :func:`predict_from_first_spike`, :func:`accuracy` —
  predictions that report all-silent outputs (``pred == -1``, ``silent == True``) instead
  of silently answering class 0.

:func:`spike_counts` and :func:`first_spike_times` are those of :mod:`snnjax.spikes`
(re-exported here). Which loss and prediction a config uses is looked up by name in the
readout registry (:mod:`snnjax.readouts`).

Validation (shapes, dtypes) always runs; checks on values (NaN or negative times,
unsorted trains, labels out of range, non-finite or out-of-range loss parameters) run only
when they are concrete, i.e. outside ``jit``. Under ``jit`` an out-of-range label gives a
meaningless loss. The predictions never fail on values: a NaN or ``-inf`` time counts as no
spike (it never wins).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.spikes import (
    as_spike_trains,
    correct,
    first_spike_times,
    spike_counts,
    validate_spike_trains,
)
from snnjax.spikes import is_concrete as _is_concrete

__all__ = [
    "spike_counts",
    "first_spike_times",
    "spike_count_loss",
    "count_cross_entropy",
    "ttfs_cross_entropy",
    "predict_from_counts",
    "predict_from_first_spike",
    "accuracy",
]


# ----------------------------------------------------------------------------- checks


def _check_labels(labels, times: jax.Array) -> jax.Array:
    y = jnp.asarray(labels)
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"labels must be integers, got dtype {y.dtype}")
    if y.shape != times.shape[:-2]:
        raise ValueError(
            f"labels of shape {y.shape} do not match times of shape {times.shape} "
            f"(expected labels of shape {times.shape[:-2]})"
        )
    n_classes = times.shape[-2]
    if _is_concrete(labels):
        x = np.asarray(labels)
        if x.size and (x.min() < 0 or x.max() >= n_classes):
            raise ValueError(f"labels must lie in [0, {n_classes}), got [{x.min()}, {x.max()}]")
    return y


def _check_scalar(name: str, value, dtype, *, positive: bool = True) -> None:
    """Raise unless a concrete ``value`` is a real finite scalar, ``> 0`` (``positive``; then
    also a normal number of ``dtype``, so that dividing by it cannot overflow to inf/NaN) or
    ``>= 0``. Tracers pass unchecked."""
    if not _is_concrete(value):
        return
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = np.asarray(value)
    if v.dtype == np.bool_ or not (
        np.issubdtype(v.dtype, np.integer) or np.issubdtype(v.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be a real number, got dtype {v.dtype}")
    if v.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {v.shape}")
    if positive:
        tiny = float(jnp.finfo(dtype).tiny)
        if not (np.isfinite(v) and v >= tiny):
            raise ValueError(
                f"{name} must be a positive finite scalar of at least {tiny:.3g} (the "
                f"smallest normal {jnp.dtype(dtype).name}), got {value!r}"
            )
    elif not (np.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a finite scalar >= 0, got {value!r}")


# ------------------------------------------------------------------ spike-count loss


@jax.custom_vjp
def _count_loss(times: jax.Array, targets: jax.Array) -> jax.Array:
    n = spike_counts(times).astype(targets.dtype)
    return 0.5 * jnp.sum((n - targets) ** 2, axis=-1)


def _count_loss_fwd(times, targets):
    finite = jnp.isfinite(times)
    n = jnp.sum(finite, axis=-1).astype(targets.dtype)
    err = targets - n  # (y_j - n_j), [..., n_classes]
    return 0.5 * jnp.sum(err**2, axis=-1), (finite, err)


def _count_loss_bwd(res, g):
    finite, err = res
    ge = g[..., None] * err  # [..., n_classes]
    # Surrogate dn_j/dt = -1 for every finite spike of neuron j:
    # dL/dt_jk = (n_j - y_j) * (-1) = y_j - n_j; empty slots get exactly 0.
    d_times = jnp.where(finite, ge[..., None], 0.0)
    # dL/dy_j = y_j - n_j is exact.
    return d_times, ge


_count_loss.defvjp(_count_loss_fwd, _count_loss_bwd)


def spike_count_loss(times, labels, *, n_true: float = 15.0, n_false: float = 3.0) -> jax.Array:
    r"""Spike-count class loss with the SPEC surrogate gradient (Bacho & Chu 2023).

    With :math:`n_j` the number of spikes of output neuron :math:`j` and targets
    :math:`y_j = n_\text{true}` for the label neuron, :math:`n_\text{false}` otherwise:

    .. math::  L = \tfrac12 \sum_j (n_j - y_j)^2 .

    :math:`n_j` is piecewise constant in the spike times, so its true derivative is 0.
    The gradient returned by ``jax.grad`` w.r.t. ``times`` is the SPEC §5 surrogate
    :math:`\partial n_j / \partial t_{jk} = -1` for every finite spike :math:`t_{jk}`:

    .. math::  \frac{\partial L}{\partial t_{jk}} = (y_j - n_j)
               \quad\text{for finite } t_{jk}, \qquad 0 \text{ for empty (+inf) slots.}

    Sign convention: with gradient descent, :math:`t \leftarrow t - \eta (y_j - n_j)`. A
    neuron with too many spikes (:math:`n_j > y_j`) gets a negative error, so its spikes
    move *later* (towards and past ``t_max``, where they vanish); a neuron with too few
    spikes gets its spikes moved *earlier* (which, upstream, means more depolarisation).
    The gradient is finite everywhere, silent neurons included. ``n_true`` and
    ``n_false`` are differentiable (exactly: :math:`\partial L/\partial y_j = y_j - n_j`).

    Args:
      times: ``[..., n_classes, K]`` float output spike times; ``+inf`` = empty slot.
      labels: ``[...]`` integer class labels in ``[0, n_classes)``.
      n_true: target count of the label neuron (finite, >= 0).
      n_false: target count of the other neurons (finite, >= 0).

    Returns:
      ``[...]`` per-sample loss, dtype of ``times`` (``+inf`` only where the squared error
      of huge targets exceeds the dtype's range).
    """
    t = validate_spike_trains(times)
    y = _check_labels(labels, t)
    _check_scalar("n_true", n_true, t.dtype, positive=False)
    _check_scalar("n_false", n_false, t.dtype, positive=False)
    return _spike_count_loss_core(t, y, n_true, n_false)


@jax.jit
def _spike_count_loss_core(t, y, n_true, n_false):
    onehot = jax.nn.one_hot(y, t.shape[-2], dtype=jnp.bool_)
    targets = jnp.where(onehot, jnp.asarray(n_true, t.dtype), jnp.asarray(n_false, t.dtype))
    return _count_loss(t, targets)


# ----------------------------------------------------------- count cross-entropy


@jax.custom_vjp
def _count_ce(times: jax.Array, onehot: jax.Array, temperature: jax.Array) -> jax.Array:
    return _count_ce_fwd(times, onehot, temperature)[0]


def _count_ce_fwd(times, onehot, temperature):
    finite = jnp.isfinite(times)
    n = jnp.sum(finite, axis=-1).astype(onehot.dtype)
    # Logits n_j / T measured from the top count: d_j = (n_j - n_max) / T <= 0 (the count
    # differences are exact), so no logit overflows to +inf and no inf - inf appears, even
    # for a tiny T; softmax is shift invariant.
    d = (n - jnp.max(n, axis=-1, keepdims=True)) / temperature
    lse = jax.nn.logsumexp(d, axis=-1)  # in [0, ln n_classes]
    d_y = jnp.sum(jnp.where(onehot > 0, d, 0.0), axis=-1)
    loss = lse - d_y  # -ln p_y; +inf only where (n_max - n_y) / T overflows
    p = jnp.exp(d - lse[..., None])
    return loss, (finite, d, p, onehot, temperature)


def _count_ce_bwd(res, g):
    finite, d, p, onehot, temperature = res
    d_logits = g[..., None] * (p - onehot)  # dL/dz_j
    # Surrogate dn_j/dt = -1 for every finite spike: dL/dt_jk = (delta_jy - p_j) / T.
    d_times = jnp.where(finite, (-d_logits / temperature)[..., None], 0.0)
    # exact: dz_j/dT = -z_j / T, and sum_j dL/dz_j = 0, so z may be replaced by d (z shifted
    # per sample); where dL/dz_j = 0 the (possibly -inf) d_j contributes 0, not NaN.
    d_temperature = -jnp.sum(jnp.where(d_logits == 0, 0.0, d_logits * d)) / temperature
    return d_times, jnp.zeros_like(onehot), d_temperature.astype(temperature.dtype)


_count_ce.defvjp(_count_ce_fwd, _count_ce_bwd)


def count_cross_entropy(times, labels, *, temperature: float = 1.0) -> jax.Array:
    r"""Softmax cross-entropy over spike counts (snnjax's extension of the count loss).

    With :math:`n_j` the spike count of output :math:`j`,
    :math:`p_j = \operatorname{softmax}(n / T)_j` and :math:`L = -\ln p_y` (SPEC §5, "count
    cross-entropy"). Counts are piecewise constant; as in :func:`spike_count_loss` the
    gradient uses the surrogate :math:`\partial n_j/\partial t_{jk} = -1` for every finite
    spike:

    .. math::  \frac{\partial L}{\partial t_{jk}} = \frac{\delta_{jy} - p_j}{T}
               \quad\text{for finite } t_{jk}, \qquad 0 \text{ for empty slots.}

    Why: the squared count loss pulls every output towards fixed targets, so it keeps
    spending gradient on samples that are already classified with a margin; the
    cross-entropy's error vanishes as :math:`p_y \to 1`. The log-sum-exp is taken relative
    to the label's logit, so large counts neither overflow nor cancel. All outputs silent:
    the loss is :math:`\ln n_\text{classes}` and the gradient is zero (there is no spike to
    move); report such samples with :func:`predict_from_counts`.

    Args:
      times: ``[..., n_classes, K]`` float output spike times; ``+inf`` = empty slot.
      labels: ``[...]`` integer class labels in ``[0, n_classes)``.
      temperature: softmax temperature :math:`T` in spikes (finite, at least the dtype's
        smallest normal number; differentiable).

    Returns:
      ``[...]`` per-sample loss, dtype of ``times``: never NaN; ``+inf`` only where
      :math:`(n_\max - n_y)/T` exceeds the dtype's range (a tiny ``T``).

    Example:
      >>> import jax.numpy as jnp
      >>> t = jnp.array([[[0.01, 0.02], [0.03, jnp.inf]]])  # counts 2 and 1
      >>> round(float(count_cross_entropy(t, jnp.array([0]))[0]), 4)  # ln(1 + e^-1)
      0.3133
    """
    t = validate_spike_trains(times)
    y = _check_labels(labels, t)
    _check_scalar("temperature", temperature, t.dtype)
    return _count_cross_entropy_core(t, y, temperature)


@jax.jit
def _count_cross_entropy_core(t, y, temperature):
    onehot = jax.nn.one_hot(y, t.shape[-2], dtype=t.dtype)
    return _count_ce(t, onehot, jnp.asarray(temperature, t.dtype))


# ---------------------------------------------------------------- TTFS cross-entropy


def ttfs_cross_entropy(
    times,
    labels,
    *,
    tau_loss: float = 0.005,
    alpha: float = 0.0,
    beta: float = 1.0,
    tau_syn: float | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy over first-spike times (TTFS; Göltz et al. 2021).

    With first-spike times :math:`\hat t_j` (``times[..., j, 0]``, ``+inf`` if silent)
    and label :math:`y`:

    .. math::
        p_j = \frac{e^{-\hat t_j/\tau_L}}{\sum_i e^{-\hat t_i/\tau_L}}, \qquad
        L = -\ln p_y + \alpha\,\bigl(e^{\hat t_y/(\beta\tau_s)} - 1\bigr),

    the second term being Fast & Deep's regulariser pushing the label spike early
    (only when ``alpha > 0``). The exact gradient w.r.t. the first-spike times is

    .. math::
        \frac{\partial L}{\partial \hat t_j} = \frac{\delta_{jy} - p_j}{\tau_L}
        + \delta_{jy}\,\frac{\alpha}{\beta\tau_s} e^{\hat t_y/(\beta\tau_s)},

    positive for the label neuron (gradient descent moves its spike earlier) and
    negative for the others (moved later); later slots ``k > 0`` get no gradient.

    Every time is first measured from the earliest first spike (softmax is shift
    invariant), so late spikes (e.g. at 1e5 s with ``tau_loss`` = 5 ms) and tiny ``tau_loss``
    keep their exact value (0 when the label spikes first and alone at the front); inf times
    are masked with the double-``where`` trick, so values and gradients are never NaN. The
    loss overflows to ``+inf`` only where the exact value exceeds the dtype's range. Silent
    neurons:

    * a silent neuron has :math:`p_j = 0` exactly and gets a zero gradient;
    * **label silent, another output fires**: :math:`p_y = 0`, so the loss is the exact
      value ``+inf``; its gradient stays finite (:math:`-p_j/\tau_L` on the firing
      outputs, 0 elsewhere). Mask with ``jnp.isfinite`` before logging means if needed;
    * **all outputs silent**: the loss is :math:`\ln(n_\text{classes})` (the uniform
      distribution) and the gradient is exactly 0;
    * the regulariser of a silent label is 0 (no finite time to penalise) with zero
      gradient; silence is reported by the cross-entropy term above and by
      :func:`predict_from_first_spike`.

    Args:
      times: ``[..., n_classes, K]`` float output spike times (sorted; ``+inf`` = empty).
      labels: ``[...]`` integer class labels in ``[0, n_classes)``.
      tau_loss: softmax temperature :math:`\tau_L` in seconds (Göltz: ξ τ_s); a finite
        normal number of ``times``' dtype (>= ``finfo.tiny``).
      alpha: regulariser strength :math:`\alpha` (finite, >= 0; 0 disables it).
      beta: regulariser time scale factor :math:`\beta`.
      tau_syn: synaptic time constant :math:`\tau_s` in seconds; required when
        ``alpha > 0``.

    Returns:
      ``[...]`` per-sample loss, dtype of ``times``.
    """
    t = validate_spike_trains(times)
    y = _check_labels(labels, t)
    _check_scalar("alpha", alpha, t.dtype, positive=False)
    use_reg = not (_is_concrete(alpha) and float(np.asarray(alpha)) == 0.0)
    if use_reg and tau_syn is None:
        raise ValueError("tau_syn is required when alpha > 0 (Fast & Deep regulariser)")
    for name, value in (("tau_loss", tau_loss), ("beta", beta), ("tau_syn", tau_syn)):
        if value is not None or name != "tau_syn":
            _check_scalar(name, value, t.dtype)

    return _ttfs_cross_entropy_core(
        t, y, tau_loss, alpha, beta, 1.0 if tau_syn is None else tau_syn, use_reg
    )


@partial(jax.jit, static_argnums=6)
def _ttfs_cross_entropy_core(t, y, tau_loss, alpha, beta, tau_syn, use_reg: bool):
    n_classes = t.shape[-2]
    t_hat = t[..., 0]  # [..., n]
    finite = jnp.isfinite(t_hat)
    any_finite = jnp.any(finite, axis=-1)
    # Double-where: no inf enters the arithmetic, so no NaN appears in any cotangent.
    t_safe = jnp.where(finite, t_hat, 0.0)
    # Softmax is shift invariant: measure every time from the earliest first spike, so that
    # neither late spikes (t / tau_L far beyond the dtype's range of exact sums) nor a tiny
    # tau_L lose the answer. The reference cancels exactly, so it carries no gradient.
    t_ref = jnp.min(jnp.where(finite, t_hat, jnp.inf), axis=-1, keepdims=True)
    t_ref = jax.lax.stop_gradient(jnp.where(any_finite[..., None], t_ref, 0.0))
    z = jnp.where(finite, -(t_safe - t_ref) / jnp.asarray(tau_loss, t.dtype), 0.0)  # <= 0
    total = jnp.sum(jnp.where(finite, jnp.exp(z), 0.0), axis=-1)  # >= 1 when any fires
    lse = jnp.log(jnp.where(any_finite, total, 1.0))

    y_idx = y[..., None]
    z_y = jnp.take_along_axis(z, y_idx, axis=-1)[..., 0]
    label_fires = jnp.take_along_axis(finite, y_idx, axis=-1)[..., 0]
    # A silent label has p_y = 0: the loss is +inf, but the gradient of the finite part
    # (-p_j / tau_L on the firing outputs) still flows; the inf term is constant.
    ce = (lse - z_y) + jnp.where(label_fires, 0.0, jnp.inf)
    loss = jnp.where(any_finite, ce, jnp.log(jnp.asarray(n_classes, t.dtype)))

    if use_reg:
        t_y = jnp.take_along_axis(t_safe, y_idx, axis=-1)[..., 0]
        scale = jnp.asarray(beta, t.dtype) * jnp.asarray(tau_syn, t.dtype)
        reg = jnp.where(label_fires, jnp.expm1(t_y / scale), 0.0)
        loss = loss + jnp.asarray(alpha, t.dtype) * reg
    return loss.astype(t.dtype)


# ---------------------------------------------------------------------- predictions


def predict_from_counts(times) -> tuple[jax.Array, jax.Array]:
    """Predict the class with the most output spikes.

    Ties in the count are broken by the earliest first spike; if the first spikes tie
    too, the lowest class index wins. A NaN (or ``-inf``) entry is no spike: it is not
    counted and never wins a tie.

    Args:
      times: ``[..., n_classes, K]`` float output spike times (sorted; ``+inf`` = empty).

    Returns:
      ``(pred, silent)``: ``pred`` ``[...]`` int32 class index, ``-1`` when every output
      neuron is silent (never class 0 by default); ``silent`` ``[...]`` bool, True when
      every output neuron is silent.

    Raises:
      ValueError: ``times`` is not floating point or has no neuron or no slot.
    """
    return _predict_from_counts_core(_prediction_input(times))


def _prediction_input(times) -> jax.Array:
    """``times`` as ``[..., n_classes, K]`` float trains with ``n_classes, K >= 1`` (shape and
    dtype only: any value, NaN included, has a defined prediction)."""
    t = as_spike_trains(times)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        raise ValueError(f"times must be floating point, got dtype {t.dtype}")
    if t.shape[-1] < 1 or t.shape[-2] < 1:
        raise ValueError(f"times needs at least one output neuron and one slot, got {t.shape}")
    return t


def _no_spike_where_not_finite(times: jax.Array) -> jax.Array:
    """NaN and -inf entries become +inf (empty slots): they are never a spike, so they never
    win a prediction (:func:`snnjax.spikes.spike_counts` does not count them either). The
    predictions then take each neuron's earliest entry as its first spike, which is slot 0
    of a sorted train and keeps an unsorted one from predicting a neuron with no spike."""
    return jnp.where(jnp.isfinite(times), times, jnp.inf)


@jax.jit
def _predict_from_counts_core(times):
    times = _no_spike_where_not_finite(times)
    counts = spike_counts(times)
    t_hat = jnp.min(times, axis=-1)  # = times[..., 0] for sorted trains; robust otherwise
    best = jnp.max(counts, axis=-1, keepdims=True)
    # Among the neurons with the top count (>= 1 unless silent), the earliest first spike.
    key = jnp.where(counts == best, t_hat, jnp.inf)
    pred = jnp.argmin(key, axis=-1).astype(jnp.int32)
    silent = best[..., 0] == 0
    return jnp.where(silent, jnp.int32(-1), pred), silent


def predict_from_first_spike(times) -> tuple[jax.Array, jax.Array]:
    """Predict the class whose output neuron spikes first (TTFS readout).

    Ties in the first spike time are broken by the lowest class index. A NaN (or ``-inf``)
    entry is no spike: it never wins, and outputs holding nothing else are silent.

    Args:
      times: ``[..., n_classes, K]`` float output spike times (sorted; ``+inf`` = empty).

    Returns:
      ``(pred, silent)``: ``pred`` ``[...]`` int32 class index, ``-1`` when every output
      neuron is silent; ``silent`` ``[...]`` bool, True when every output is silent.

    Raises:
      ValueError: ``times`` is not floating point or has no neuron or no slot.
    """
    return _predict_from_first_spike_core(_prediction_input(times))


@jax.jit
def _predict_from_first_spike_core(times):
    times = _no_spike_where_not_finite(times)
    t_hat = jnp.min(times, axis=-1)  # = times[..., 0] for sorted trains; robust otherwise
    silent = jnp.all(jnp.isinf(t_hat), axis=-1)
    pred = jnp.argmin(t_hat, axis=-1).astype(jnp.int32)
    return jnp.where(silent, jnp.int32(-1), pred), silent


def accuracy(pred, labels) -> jax.Array:
    """Fraction of correct predictions; silent predictions (``-1``) count as wrong.

    Args:
      pred: ``[...]`` integer predictions (``-1`` = silent, as returned by the
        ``predict_*`` functions).
      labels: ``[...]`` integer labels, same shape.

    Returns:
      float32 scalar in ``[0, 1]`` (the mean over all entries; NaN for empty input).
    """
    p = jnp.asarray(pred)
    y = jnp.asarray(labels)
    if p.shape != y.shape:
        raise ValueError(f"pred shape {p.shape} does not match labels shape {y.shape}")
    return _accuracy_core(p, y)


@jax.jit
def _accuracy_core(p, y):
    return jnp.mean(correct(p, y).astype(jnp.float32))
