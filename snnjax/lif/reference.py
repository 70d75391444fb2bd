"""Plain NumPy float64 event simulator of one layer: the oracle for all tests.

This module implements SPEC §1–§3 literally, one post-synaptic neuron at a time with
Python loops, for clarity rather than speed. It imports only NumPy and is meant to be
read next to the JAX kernel: every JAX result is checked against it.

Model (current-based LIF, Bacho & Chu 2023; Göltz et al. 2021), times in seconds:

* synaptic current ``dI/dt = -I/tau_syn`` with ``I += w`` at every input spike,
* membrane ``du/dt = -u/tau_mem + I`` with ``tau_mem = 2 * tau_syn``,
* a spike when ``u`` reaches ``theta``, reset by subtraction ``u -= delta_theta``.

Integrated, the membrane potential of post neuron ``i`` is::

    u_i(t) = tau_mem * sum_j w_ji sum_{t_j < t} [exp(-(t - t_j)/tau_mem) - exp(-(t - t_j)/tau_syn)]
             - delta_theta * sum_{t_s < t} exp(-(t - t_s)/tau_mem)

and, with ``z = exp((t - t_ref)/tau_mem)`` (so ``z**2 = exp((t - t_ref)/tau_syn)``),
``u = theta`` is the quadratic ``c z**2 - b z + a = 0`` where (all relative to a
reference time ``t_ref``)::

    a = sum w exp((t_in - t_ref)/tau_syn)
    b = sum w exp((t_in - t_ref)/tau_mem) - kappa * sum_spikes exp((t_s - t_ref)/tau_mem)
    c = theta/tau_mem,   kappa = delta_theta/tau_mem.

The first upward crossing is the smaller root ``z* = 2a/(b + x)``, ``x = sqrt(b**2 - 4ac)``,
and ``t* = t_ref + tau_mem * ln(z*)``. Working relative to ``t_ref`` (re-referenced to
every event time) keeps all exponentials O(1), so arbitrarily long simulations do not
overflow (the formula is invariant under shifting all times).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["membrane_potential", "simulate_layer"]


# --------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------


def _as_spike_trains(times, name: str) -> np.ndarray:
    """Return ``times`` as a ``[n, K]`` float64 array after checking it is a spike train.

    Finite times may be any real number (negative included: the model is
    shift-invariant); ``+inf`` marks an empty slot; rows must be sorted ascending.
    """
    arr = np.asarray(times, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D [n, K], got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    if np.isneginf(arr).any():
        raise ValueError(f"{name} contains -inf (use +inf for an empty slot)")
    if arr.shape[1] > 1:
        with np.errstate(invalid="ignore"):  # inf - inf in padded rows is fine here
            unsorted = arr[:, 1:] < arr[:, :-1]
        if unsorted.any():
            row = int(np.argwhere(unsorted)[0, 0])
            raise ValueError(f"{name} row {row} is not sorted ascending: {arr[row]}")
    return arr


def _check_params(tau_syn, theta, delta_theta) -> tuple[float, float, float, float]:
    """Validate the neuron parameters; return ``(tau_syn, tau_mem, theta, delta_theta)``."""
    tau_syn = float(tau_syn)
    theta = float(theta)
    delta_theta = theta if delta_theta is None else float(delta_theta)
    if not (math.isfinite(tau_syn) and tau_syn > 0):
        raise ValueError(f"tau_syn must be positive and finite, got {tau_syn}")
    if not (math.isfinite(theta) and theta > 0):
        raise ValueError(f"theta must be positive and finite, got {theta}")
    if not (math.isfinite(delta_theta) and delta_theta > 0):
        raise ValueError(f"delta_theta must be positive and finite, got {delta_theta}")
    return tau_syn, 2.0 * tau_syn, theta, delta_theta


def _check_weights(weights, n_in: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != n_in:
        raise ValueError(f"weights must be [n_in={n_in}, n_out], got shape {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError("weights must be finite")
    return w


# --------------------------------------------------------------------------------------
# the event simulator
# --------------------------------------------------------------------------------------


def _input_event_groups(input_times: np.ndarray, t_max: float):
    """Merge all input spikes (of all input neurons) into groups of equal time.

    Returns:
      ``(group_times, group_members)``: ``group_times`` is a sorted 1-D array of the
      distinct input times ``< t_max``; ``group_members[g]`` is the int array of input
      neuron indices (with repetition if a neuron spikes twice at that time) that spike at
      ``group_times[g]``.
    """
    active = np.isfinite(input_times) & (input_times < t_max)
    rows, _ = np.nonzero(active)
    times = input_times[active]  # same row-major order as ``rows``
    order = np.argsort(times, kind="stable")
    times, rows = times[order], rows[order]
    group_times, starts = np.unique(times, return_index=True)
    bounds = list(starts) + [len(times)]
    members = [rows[bounds[g] : bounds[g + 1]] for g in range(len(group_times))]
    return group_times, members


def _simulate_neuron(
    group_times: np.ndarray,
    group_weights: list[float],
    *,
    tau_syn: float,
    tau_mem: float,
    theta: float,
    delta_theta: float,
    t_max: float,
    max_spikes: int,
    count_dropped_up_to: int | None,
) -> tuple[list[float], int]:
    """Walk the event groups of one post neuron (SPEC §3).

    Args:
      group_times: ``[G]`` sorted distinct input times (s), all ``< t_max``.
      group_weights: ``G`` floats, the summed weight arriving at each group time.

    Returns:
      ``(spikes, n_dropped)``: the first ``max_spikes`` output spike times (s) in order and
      the number of further spikes (saturating at ``count_dropped_up_to`` if given).
    """
    c = theta / tau_mem
    kappa = delta_theta / tau_mem
    a = 0.0  # sum w exp((t_in - t_ref)/tau_syn)
    b = 0.0  # sum w exp((t_in - t_ref)/tau_mem) - kappa sum exp((t_s - t_ref)/tau_mem)
    t_ref = group_times[0] if len(group_times) else 0.0
    spikes: list[float] = []
    n_dropped = 0
    last_spike = -math.inf

    for g, t_g in enumerate(group_times):
        # Re-reference the sums to the current event time: a and b stay O(1).
        a *= math.exp(-(t_g - t_ref) / tau_syn)
        b *= math.exp(-(t_g - t_ref) / tau_mem)
        t_ref = t_g
        # Integrate the whole group of equal-time events (exp(0) = 1) before any crossing.
        a += group_weights[g]
        b += group_weights[g]

        t_next = group_times[g + 1] if g + 1 < len(group_times) else math.inf
        # Several spikes may fire before the next input: try again after each reset.
        while True:
            disc = b * b - 4.0 * a * c
            if disc < 0.0:
                break
            x = math.sqrt(disc)
            if b + x == 0.0:
                break
            z = 2.0 * a / (b + x)
            if not z > 0.0:
                break
            t_star = t_ref + tau_mem * math.log(z)
            t_last = max(t_g, last_spike)
            if not (t_last < t_star <= t_next and t_star <= t_max):
                break
            # Accept: record (or count) the spike and reset by subtraction.
            if len(spikes) < max_spikes:
                spikes.append(t_star)
            else:
                n_dropped += 1
            last_spike = t_star
            b -= kappa * z
            saturated = count_dropped_up_to is not None and n_dropped >= count_dropped_up_to
            if len(spikes) == max_spikes and saturated:
                return spikes, n_dropped  # nothing left to record or count
    return spikes, n_dropped


def simulate_layer(
    input_times,
    weights,
    *,
    tau_syn: float,
    theta: float,
    delta_theta: float | None = None,
    max_spikes: int,
    t_max: float,
    count_dropped_up_to: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact event-based simulation of one dense layer of LIF neurons (float64).

    Implements SPEC §3 literally: per post neuron, all input spikes are merged in time
    order; events with exactly equal times are integrated together; after each event
    group the closed-form candidate ``t* = t_ref + tau_mem ln(2a/(b + x))`` is accepted
    iff ``b**2 - 4ac >= 0``, ``b + x != 0``, ``z* > 0``, ``t_last < t* <= t_next`` and
    ``t* <= t_max`` (``t_last`` = max(current event time, previous output spike),
    ``t_next`` = next distinct input time or ``+inf``); an accepted spike applies the reset
    ``b -= kappa z*`` and the search is repeated. A candidate beyond ``t_max`` is
    rejected, but later inputs (before ``t_max``) are still integrated. Input spikes at
    or after ``t_max`` cannot affect any spike ``<= t_max`` and are ignored.

    Args:
      input_times: ``[n_in, K_in]`` float, seconds; rows sorted ascending; ``inf`` =
        empty slot. Equal times (within or across rows) are allowed.
      weights: ``[n_in, n_out]`` float; weight ``w`` adds ``w`` to the synaptic current,
        in units of ``theta`` per second (a single input spike gives the PSP
        ``tau_mem * w * (exp(-s/tau_mem) - exp(-s/tau_syn))``).
      tau_syn: synaptic time constant (s); ``tau_mem = 2 * tau_syn``.
      theta: firing threshold (> 0).
      delta_theta: reset amount subtracted from ``u`` at each spike (> 0); defaults to
        ``theta``.
      max_spikes: spike buffer size ``K`` per output neuron (>= 0).
      t_max: end of the simulation (s); spikes must satisfy ``t <= t_max``.
      count_dropped_up_to: if an int, stop counting dropped spikes of a neuron once the
        count reaches this value (the count saturates there); ``None`` counts all.

    Returns:
      ``(times, n_dropped)``: ``times`` ``[n_out, max_spikes]`` float64, sorted per row,
      ``inf`` = empty slot; ``n_dropped`` ``[n_out]`` int64, the number of spikes each
      neuron fired beyond its buffer (it keeps integrating, firing and resetting after
      the buffer is full; those spikes are only counted).
    """
    input_times = _as_spike_trains(input_times, "input_times")
    n_in = input_times.shape[0]
    w = _check_weights(weights, n_in)
    n_out = w.shape[1]
    tau_syn, tau_mem, theta, delta_theta = _check_params(tau_syn, theta, delta_theta)
    max_spikes = int(max_spikes)
    if max_spikes < 0:
        raise ValueError(f"max_spikes must be >= 0, got {max_spikes}")
    t_max = float(t_max)
    if math.isnan(t_max):
        raise ValueError("t_max is NaN")
    if count_dropped_up_to is not None:
        count_dropped_up_to = int(count_dropped_up_to)
        if count_dropped_up_to < 0:
            raise ValueError(f"count_dropped_up_to must be >= 0, got {count_dropped_up_to}")

    group_times, members = _input_event_groups(input_times, t_max)
    times = np.full((n_out, max_spikes), np.inf, dtype=np.float64)
    n_dropped = np.zeros(n_out, dtype=np.int64)
    for i in range(n_out):
        group_weights = [float(w[m, i].sum()) for m in members]
        spikes, dropped = _simulate_neuron(
            group_times,
            group_weights,
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            theta=theta,
            delta_theta=delta_theta,
            t_max=t_max,
            max_spikes=max_spikes,
            count_dropped_up_to=count_dropped_up_to,
        )
        times[i, : len(spikes)] = spikes
        n_dropped[i] = dropped
    return times, n_dropped


# --------------------------------------------------------------------------------------
# closed-form membrane potential
# --------------------------------------------------------------------------------------


def membrane_potential(
    t,
    input_times,
    weights,
    output_times,
    *,
    tau_syn: float,
    theta: float,
    delta_theta: float | None = None,
) -> np.ndarray:
    """Closed-form membrane potential ``u(t)`` of SPEC §1 (float64).

    ``u_i(t) = tau_mem sum_j w_ji sum_{t_j < t} [e^{-(t-t_j)/tau_mem} - e^{-(t-t_j)/tau_syn}]
    - delta_theta sum_{t_s < t} e^{-(t-t_s)/tau_mem}``, with strict ``<``: at an output
    spike time ``u`` is the value just before that spike's reset (``= theta``).

    Args:
      t: ``[T]`` float (or a scalar), evaluation times in seconds (finite).
      input_times: ``[n_in, K_in]`` float, seconds; ``inf`` = empty slot.
      weights: ``[n_in, n_out]`` float.
      output_times: ``[n_out, K]`` float, seconds, the neurons' own spikes (for the
        resets); ``inf`` = empty slot. Usually the ``times`` of :func:`simulate_layer`.
      tau_syn: synaptic time constant (s); ``tau_mem = 2 * tau_syn``.
      theta: threshold (only validated here; ``u`` does not depend on it).
      delta_theta: reset amount; defaults to ``theta``.

    Returns:
      ``[T, n_out]`` float64, the membrane potentials.
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    if t.ndim != 1:
        raise ValueError(f"t must be 1-D, got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ValueError("t must be finite")
    input_times = _as_spike_trains(input_times, "input_times")
    w = _check_weights(weights, input_times.shape[0])
    output_times = _as_spike_trains(output_times, "output_times")
    if output_times.shape[0] != w.shape[1]:
        raise ValueError(
            f"output_times must be [n_out={w.shape[1]}, K], got shape {output_times.shape}"
        )
    tau_syn, tau_mem, theta, delta_theta = _check_params(tau_syn, theta, delta_theta)

    u = np.zeros((t.shape[0], w.shape[1]), dtype=np.float64)
    # PSPs: one column of input slots at a time, [T, n_in] each.
    for k in range(input_times.shape[1]):
        tin = input_times[None, :, k]
        causal = tin < t[:, None]
        s = np.where(causal, t[:, None] - np.where(causal, tin, 0.0), 0.0)
        psp = np.where(causal, tau_mem * (np.exp(-s / tau_mem) - np.exp(-s / tau_syn)), 0.0)
        u += psp @ w
    # Resets: [T, n_out] per output slot.
    for k in range(output_times.shape[1]):
        ts = output_times[None, :, k]
        causal = ts < t[:, None]
        s = np.where(causal, t[:, None] - np.where(causal, ts, 0.0), 0.0)
        u -= np.where(causal, delta_theta * np.exp(-s / tau_mem), 0.0)
    return u
