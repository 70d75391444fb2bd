"""What is specific to the ``"parallel"`` backend (the shared suite runs on it through the
``backend`` fixture): its sequential depth, its chunked memory path, float32 spike counts
equal to the event loop's on realistic layers, its count saturation and the guard of a
grazing spike's gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import float64, random_layer

import snnjax
from snnjax.lif.backends import get_backend, parallel
from snnjax.lif.backends.parallel import backward, chunks, scan
from snnjax.lif.events import sort_events

PARAMS = snnjax.LIFParams(tau_syn=0.13, theta=1.0, delta_theta=1.0)


def _events(times, t_max, dtype=jnp.float32):
    times = jnp.asarray(times, dtype)
    return sort_events(times, jnp.asarray(t_max, dtype), times.shape[1] * times.shape[2])[0]


def _params(params, dtype):
    return jax.tree_util.tree_map(lambda v: jnp.asarray(v, dtype), params)


def test_rounds_are_the_most_spikes_plus_one():
    """One input of growing weight drives 0, 1, ..., many spikes; the rounds are the most
    spikes of any neuron + 1 also when they overflow the 3 buffer slots (counted)."""
    weights = jnp.asarray([[0.0, 20.0, 40.0, 80.0, 300.0]], jnp.float32)
    events = _events(np.zeros((2, 1, 1)), 2.0)
    out, rounds = parallel.forward_rounds(
        events, weights, _params(PARAMS, jnp.float32), jnp.asarray(2.0, jnp.float32), 3
    )
    counts = np.asarray(out.n_spikes)
    assert counts[0, 0] == 0
    assert counts[0, -1] > 3
    assert len(set(counts[0])) == 5  # every neuron a different count
    assert int(rounds) == counts.max() + 1
    loop = get_backend("loop").forward(events, weights, _params(PARAMS, jnp.float32), 2.0, 3)
    np.testing.assert_array_equal(out.n_spikes, loop.n_spikes)


def test_rounds_on_random_layers():
    rng = np.random.default_rng(5)
    for _ in range(4):
        lay = random_layer(rng, batch=6)
        events = _events(lay.times, lay.t_max)
        w = jnp.asarray(lay.weights, jnp.float32)
        out, rounds = parallel.forward_rounds(
            events, w, _params(lay.params, jnp.float32), jnp.asarray(lay.t_max, jnp.float32), 2
        )
        assert int(rounds) == int(np.max(out.n_spikes)) + 1


@pytest.mark.parametrize("x64", [False, True])
def test_chunked_equals_unchunked(x64):
    """A budget of a few neurons per chunk (lax.map) gives the one-chunk result."""
    rng = np.random.default_rng(11)
    lay = random_layer(rng, batch=3, n_in=10, n_out=13)
    per_neuron = snnjax.LIFParams(
        tau_syn=lay.tau_syn * rng.uniform(0.8, 1.2, 13), theta=lay.theta, delta_theta=lay.theta
    )
    small = parallel.make_parallel_backend(3 * 40 * 4)  # E = 40 slots: 4 neurons per chunk
    assert chunks.neuron_chunk_size(3, 13, 40, 3 * 40 * 4) == 4
    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        t, w = jnp.asarray(lay.times, dtype), jnp.asarray(lay.weights, dtype)
        cot = jnp.asarray(rng.normal(size=(3, 13, 4)), dtype)
        results = []
        for backend in (get_backend("parallel"), small):

            def loss(t, w, backend=backend):
                out = snnjax.lif_layer(
                    t, w, per_neuron, max_spikes=4, t_max=lay.t_max, backend=backend
                )
                return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times * cot, 0.0)), out

            results.append(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(t, w))
    (_, whole), (g_t, g_w) = results[0]
    (_, chunked), (c_t, c_w) = results[1]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)  # per-neuron work: bitwise equal
    # The weight gradient sums over the batch and the events; XLA may order that sum
    # differently for another chunk shape (jax 0.12.1, float64: 1 ulp on 6 of 130 entries).
    eps = np.finfo(np.float64 if x64 else np.float32).eps
    np.testing.assert_allclose(g_w, c_w, rtol=16 * eps, atol=16 * eps * np.abs(g_w).max())
    np.testing.assert_allclose(g_t, c_t, rtol=1e-5 if not x64 else 1e-12, atol=1e-6)
    assert np.isfinite(whole.times).sum() > 20


def test_float32_counts_equal_the_loop_on_realistic_layers():
    """Random inputs 100 -> 50, K = 5, float32: identical spike counts (incl. beyond the
    buffer) and unresolved counts, times within float32 rounding."""
    rng = np.random.default_rng(2)
    t = rng.uniform(0.0, 0.2, (8, 100, 2))
    t[rng.random(t.shape) < 0.4] = np.inf
    t = np.sort(t, axis=-1).astype(np.float32)
    w = rng.normal(0.4, 1.0, (100, 50)).astype(np.float32)
    params = snnjax.LIFParams(tau_syn=0.13, theta=1.0, delta_theta=1.0)
    outs = [
        snnjax.lif_layer(t, w, params, max_spikes=5, t_max=0.5, backend=b)
        for b in ("loop", "parallel")
    ]
    np.testing.assert_array_equal(outs[0].n_dropped, outs[1].n_dropped)
    np.testing.assert_array_equal(outs[0].n_unresolved, outs[1].n_unresolved)
    finite = np.isfinite(outs[0].times)
    np.testing.assert_array_equal(finite, np.isfinite(outs[1].times))
    np.testing.assert_allclose(outs[1].times[finite], outs[0].times[finite], atol=1e-5)
    assert finite.sum() > 1000
    assert np.asarray(outs[0].n_dropped).sum() > 0


def test_count_saturates():
    """A neuron stops at ``count_limit`` spikes (as the loop backend's)."""
    events = _events(np.zeros((1, 1, 1)), 1.0)
    weights = jnp.asarray([[500.0]], jnp.float32)
    out = parallel.forward_events(
        events,
        weights,
        _params(PARAMS, jnp.float32),
        jnp.asarray(1.0, jnp.float32),
        2,
        count_limit=7,
    )
    assert int(out.n_spikes[0, 0]) == 7


def test_grazing_slope_zero_has_finite_partials():
    """``x = 0`` (the discriminant rounded to zero) gets a floor, not an infinite gradient."""
    shape = (1, 1, 2)
    times = jnp.asarray([[[0.1, jnp.inf]]], jnp.float32)
    d_a, d_b = backward.spike_partials(
        jnp.ones(shape, jnp.float32),
        times,
        jnp.asarray([[[0.0, 1.0]]], jnp.float32),
        jnp.zeros(shape, jnp.float32),
        0.13,
        1.0,
        1.0,
    )
    assert np.isfinite(d_a).all()
    assert np.isfinite(d_b).all()
    assert abs(float(d_b[0, 0, 0])) > 100 * abs(float(2 * 0.13 / 1.0))  # x = 1: 0.26


def test_segment_totals_equal_segment_sum():
    rng = np.random.default_rng(0)
    with float64():
        values = jnp.asarray(rng.normal(size=(200, 3)))
        segment = jnp.asarray(rng.integers(-1, 12, 200), jnp.int32)  # -1: ignored
        got = scan.segment_totals(values, segment, 11)
        want = jax.ops.segment_sum(
            jnp.where((segment < 11)[:, None], values, 0.0),
            jnp.where(segment >= 0, segment, 11),
            12,
        )[:11]
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_blocked_exponential_sums_equal_the_recurrence(reverse):
    """The blocked-matmul sums (shared tau) equal the scanned recurrence (per-neuron tau
    path), padding and rows without events included."""
    rng = np.random.default_rng(1)
    with float64():
        t = np.sort(rng.uniform(0, 1, (3, 37)), axis=1)
        t[:, 30:] = np.inf
        t[2] = np.inf
        x = rng.normal(size=(3, 4, 37))
        x[:, :, 30:] = 0.0
        t, x = jnp.asarray(t), jnp.asarray(x)
        blocked = parallel.forward.exp_sum(t, x, jnp.asarray(0.3), reverse=reverse)
        scanned = parallel.forward.exp_sum(t, x, jnp.full((1, 4, 1), 0.3), reverse=reverse)
        np.testing.assert_allclose(blocked, scanned, rtol=1e-12, atol=1e-12)
        assert np.abs(np.asarray(blocked)).max() > 1.0


def _at_events_slot_loop(values, event_index, n_events):
    """The former formulation of :func:`backward.at_events`: one scatter-add per slot."""
    batch, n_out, k_slots = values.shape
    rows = jnp.arange(batch, dtype=jnp.int32)[:, None]
    cols = jnp.arange(n_out, dtype=jnp.int32)[None, :]
    target = jnp.where(event_index >= 0, event_index, n_events)

    def add(k, acc):
        return acc.at[rows, cols, target[..., k]].add(values[..., k], mode="drop")

    init = jnp.zeros((batch, n_out, n_events), values.dtype)
    return jax.lax.fori_loop(0, k_slots, add, init)


def _slot_events(rng, shape, n_events):
    """Event indices ``[B, n, K]`` as the forward leaves them: non-decreasing over the
    stored spikes (often several per event), ``-1`` on the empty slots after them."""
    steps = rng.choice([0, 0, 0, 1, 3], size=shape)  # mostly repeats: runs of shared events
    index = np.minimum(
        rng.integers(0, 4, shape[:2])[..., None] + np.cumsum(steps, -1), n_events - 1
    )
    n_stored = rng.integers(0, shape[2] + 1, shape[:2])
    index = np.where(np.arange(shape[2]) < n_stored[..., None], index, -1)
    index[0, 0] = 5  # every slot of one neuron on one event
    index[0, 1] = -1  # a neuron without spikes
    return jnp.asarray(index, jnp.int32)


def test_at_events_equals_the_slot_loop():
    """One segmented scan + one collision-free scatter gives the per-slot loop's sums:
    bitwise where every partial sum is exact (integers), to rounding otherwise, with
    several spikes sharing one causal event."""
    rng = np.random.default_rng(3)
    shape, n_events = (3, 5, 9), 12
    index = _slot_events(rng, shape, n_events)
    runs = np.asarray(index[..., 1:] == index[..., :-1]) & np.asarray(index[..., 1:] >= 0)
    assert runs.sum() >= 20  # many slots share their event with the previous one
    ints = jnp.asarray(rng.integers(-50, 50, shape), jnp.float32)
    got = backward.at_events(ints, index, n_events)
    np.testing.assert_array_equal(got, _at_events_slot_loop(ints, index, n_events))
    assert float(got[0, 0, 5]) == float(ints[0, 0].sum())
    assert not np.asarray(got[0, 1]).any()
    with float64():
        values = jnp.asarray(rng.normal(size=shape))
        got = backward.at_events(values, index, n_events)
        want = _at_events_slot_loop(values, index, n_events)
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def _loop_trips(fn, *args):
    """``{primitive: [trips of each loop]}`` of ``fn(*args)``, counted by running its jaxpr
    loop by loop (the counter of ``benchmarks/cost_model.py``)."""
    from benchmarks import cost_model

    closed = jax.make_jaxpr(fn)(*args)
    tally = cost_model.Tally()
    cost_model._eval(closed, jax.tree.leaves(args), tally)
    trips = {}
    for key, n in tally.trips.items():
        loop = next(e for e in cost_model._walk(closed) if id(e) == key)
        trips.setdefault(loop.primitive.name, []).append(n)
    return trips


def test_training_step_runs_only_the_rounds_sequentially():
    """Forward + backward of a layer: the only sequential loop is the forward's rounds
    (the most spikes of a neuron + 1); nothing loops over the ``K`` slots or the events."""
    rng = np.random.default_rng(4)
    lay = random_layer(rng, batch=3, n_in=10, k_in=2, n_out=5, tau_syn=0.01, theta=1.0)
    params = _params(lay.params, jnp.float32)
    times = jnp.asarray(lay.times, jnp.float32)
    weights = jnp.asarray(lay.weights, jnp.float32)

    def loss(w, t):
        out = snnjax.lif_layer(t, w, params, max_spikes=6, t_max=lay.t_max, backend="parallel")
        return jnp.sum(jnp.where(jnp.isfinite(out.times), out.times, 0.0))

    trips = _loop_trips(jax.value_and_grad(loss, argnums=(0, 1)), weights, times)
    events = _events(lay.times, lay.t_max)
    _, rounds = parallel.forward_rounds(events, weights, params, lay.t_max, 6)
    assert int(rounds) >= 3  # neurons fire several spikes
    assert trips == {"while": [int(rounds)]}
