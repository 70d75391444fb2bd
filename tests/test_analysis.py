"""Tests of snnjax.analysis: hand-built spike trains where every metric is known exactly,
vmap == Python loop for the robustness sweeps, and the toy convergence map."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnjax import analysis
from snnjax.analysis import robustness
from snnjax.lif.backends import available_backends
from snnjax.losses import predict_from_counts, predict_from_first_spike
from snnjax.nn import conv_patches, make_conv_network, make_dense_network

INF = np.inf


# --------------------------------------------------------------------------- latency


def brute_decision_time(times: np.ndarray, readout: str) -> np.ndarray:
    """Decision time by definition: truncate at every output spike time, compare predictions."""
    predict = predict_from_counts if readout == "count" else predict_from_first_spike
    flat = times.reshape((-1,) + times.shape[-2:])
    out = []
    for t in flat:
        final = int(predict(t[None])[0][0])
        if final < 0:
            out.append(INF)
            continue
        cands = np.unique(t[np.isfinite(t)])
        preds = [int(predict(analysis.truncate_times(t, c)[None])[0][0]) for c in cands]
        bad = [i for i, p in enumerate(preds) if p != final]
        out.append(cands[bad[-1] + 1] if bad else cands[0])
    return np.array(out).reshape(times.shape[:-2])


def test_decision_time_hand_built():
    t = np.array(
        [
            # class 0 leads, class 1 overtakes at 0.26, class 0 ties 3-3 at 0.3 and wins the tie
            [[0.1, 0.2, 0.3], [0.15, 0.25, 0.26]],
            # class 1 leads from its first spike on
            [[0.5, INF, INF], [0.2, 0.3, INF]],
            # all silent: no decision
            [[INF, INF, INF], [INF, INF, INF]],
            # equal times enter together: at 0.2 both reach 2, class 1 wins the tie (first 0.1)
            [[0.15, 0.2, INF], [0.1, 0.2, INF]],
            # class 0 alone, single spike
            [[0.4, INF, INF], [INF, INF, INF]],
        ],
        np.float32,
    )
    count = np.asarray(analysis.decision_time(t, "count"))
    ttfs = np.asarray(analysis.decision_time(t, "ttfs"))
    np.testing.assert_allclose(count, [0.3, 0.2, INF, 0.1, 0.4], rtol=1e-6)
    np.testing.assert_allclose(ttfs, [0.1, 0.2, INF, 0.1, 0.4], rtol=1e-6)
    np.testing.assert_array_equal(count, brute_decision_time(t, "count"))
    np.testing.assert_array_equal(ttfs, brute_decision_time(t, "ttfs"))


def test_decision_time_matches_definition_on_random_trains():
    rng = np.random.default_rng(0)
    # Times on a coarse grid so that equal times (ties) are common; leading batch dims.
    t = rng.integers(1, 8, (4, 6, 3, 4)).astype(np.float32) * 0.01
    t[rng.random(t.shape) < 0.45] = INF
    t = np.sort(t, axis=-1)
    for readout in ("count", "ttfs"):
        got = np.asarray(analysis.decision_time(t, readout))
        assert got.shape == (4, 6)
        np.testing.assert_array_equal(got, brute_decision_time(t, readout))
        # Truncating at the decision time gives the final prediction.
        predict = predict_from_counts if readout == "count" else predict_from_first_spike
        final = np.asarray(predict(t)[0])
        at = np.asarray(predict(analysis.truncate_times(t, np.where(np.isinf(got), 0, got)))[0])
        np.testing.assert_array_equal(at[final >= 0], final[final >= 0])


def test_accuracy_vs_deadline_hand_built():
    t = np.array(
        [
            [[0.1, INF], [0.2, 0.3]],  # label 1: class 0 first; class 1 wins (2 spikes) at 0.3
            [[0.05, INF], [INF, INF]],  # label 0: right from 0.05 on
            [[INF, INF], [INF, INF]],  # label 0: silent, never right
        ],
        np.float32,
    )
    y = np.array([1, 0, 0])
    d = [0.0, 0.06, 0.1, 0.25, 0.3, INF]
    count = np.asarray(analysis.accuracy_vs_deadline(t, y, d, "count"))
    ttfs = np.asarray(analysis.accuracy_vs_deadline(t, y, d, "ttfs"))
    np.testing.assert_allclose(count, np.array([0, 1, 1, 1, 2, 2]) / 3, rtol=1e-6)
    np.testing.assert_allclose(ttfs, np.array([0, 1, 1, 1, 1, 1]) / 3, rtol=1e-6)


# -------------------------------------------------------------------------- sparsity


def test_counts_silent_fractions_and_silent_labels():
    t = np.array(
        [
            [[0.1, 0.2], [INF, INF], [0.3, INF]],
            [[INF, INF], [INF, INF], [0.1, 0.4]],
        ],
        np.float32,
    )
    np.testing.assert_array_equal(analysis.spikes_per_sample(t), [3, 2])
    totals = np.asarray(analysis.neuron_spike_totals(t))
    np.testing.assert_array_equal(totals, [2, 0, 3])
    assert analysis.silent_fraction(totals) == pytest.approx(1 / 3)
    np.testing.assert_array_equal(analysis.label_silent(t, np.array([1, 2])), [True, False])
    np.testing.assert_array_equal(analysis.label_silent(t, np.array([0, 0])), [False, True])


def test_synops_tiny_dense_network():
    net = make_dense_network(sizes=(3, 2, 4), thetas=(1.0, 1.0), max_spikes=(2, 2))
    x = np.array(
        [
            [[0.1, 0.2], [0.3, INF], [INF, INF]],  # 3 input spikes
            [[INF, INF], [INF, INF], [0.1, INF]],
        ],  # 1 input spike
        np.float32,
    )
    hidden = np.array(
        [
            [[0.2, 0.3], [0.4, INF]],  # 3 hidden spikes
            [[INF, INF], [INF, INF]],
        ],
        np.float32,
    )
    output = np.full((2, 4, 2), INF, np.float32)
    output[0, 1, 0] = 0.5
    synops = np.asarray(analysis.synaptic_operations(net, x, (hidden, output)))
    # layer 0: input spikes x 2 hidden neurons; layer 1: hidden spikes x 4 outputs.
    np.testing.assert_array_equal(synops, [[3 * 2, 3 * 4], [1 * 2, 0]])
    assert analysis.spiking_layer_indices(net) == (0, 1)
    assert analysis.layer_names(net) == ("hidden1", "output")


def test_conv_fan_out_is_exact():
    fan = analysis.conv_fan_out((5, 4, 2), (3, 2), 7)
    assert fan.shape == (5, 4, 2)
    # rows: 5 inputs, kernel 3 -> 3 outputs; coverage 1 2 3 2 1. cols: 4, kernel 2 -> 1 2 2 1
    expected = np.outer([1, 2, 3, 2, 1], [1, 2, 2, 1]) * 7
    np.testing.assert_array_equal(fan[..., 0], expected)
    np.testing.assert_array_equal(fan[..., 1], expected)
    # Brute force: count every (output position, kernel offset) that reads each input.
    brute = np.zeros((5, 4), int)
    for p, q, di, dj in itertools.product(range(3), range(3), range(3), range(2)):
        brute[p + di, q + dj] += 7
    np.testing.assert_array_equal(fan[..., 0], brute)


def test_synops_tiny_conv_network_matches_gathered_patches():
    net = make_conv_network(
        input_shape=(6, 6, 1),
        conv_features=(2,),
        kernel_size=3,
        dense_sizes=(3,),
        thetas=(1.0, 1.0),
        max_spikes=(1, 2),
    )
    # layers: conv(0) -> pool(1) -> flatten(2) -> dense(3)
    assert analysis.spiking_layer_indices(net) == (0, 3)
    x = np.full((1, 6, 6, 1, 1), INF, np.float32)
    x[0, 0, 0, 0, 0] = 0.1  # corner: in 1 receptive field  -> 1 * 2 features
    x[0, 2, 3, 0, 0] = 0.2  # interior: in 3 x 3 fields     -> 9 * 2
    x[0, 5, 2, 0, 0] = 0.3  # bottom edge: 1 x 3 fields     -> 3 * 2
    conv_out = np.full((1, 4, 4, 2, 1), INF, np.float32)
    conv_out[0, 0, 0, 1, 0] = 0.2
    conv_out[0, 3, 2, 0, 0] = 0.3
    pooled = np.sort(
        conv_out.reshape(1, 2, 2, 2, 2, 2, 1).transpose(0, 1, 3, 5, 2, 4, 6).reshape(1, 2, 2, 2, 4),
        axis=-1,
    )
    flat = pooled.reshape(1, 8, 4)
    out = np.full((1, 3, 2), INF, np.float32)
    synops = np.asarray(analysis.synaptic_operations(net, x, (conv_out, pooled, flat, out)))
    np.testing.assert_array_equal(synops, [[(1 + 9 + 3) * 2, 2 * 3]])
    # Independent check: every synapse of the conv layer appears once in the gathered patches.
    counts = np.isfinite(x).sum(-1, keepdims=True).astype(np.float32)
    patches = np.asarray(conv_patches(jnp.asarray(counts), (3, 3)))
    assert patches.sum() * 2 == synops[0, 0]


# ------------------------------------------------------------------------ robustness


@pytest.fixture(scope="module")
def tiny_net():
    """A 6-8-3 network with a few hidden and output spikes per sample; labels = its clean
    predictions except one (so the clean accuracy is known and noise can only lower it)."""
    net = make_dense_network(
        sizes=(6, 8, 3),
        thetas=(0.5, 0.5),
        max_spikes=(3, 6),
        t_max=0.3,
        init=[("normal", 1.0, 2.0), ("normal", 2.0, 3.0)],
    )
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 0.1, (7, 6, 2)).astype(np.float32)
    x[rng.random(x.shape) < 0.2] = INF
    x = np.sort(x, axis=-1)
    params = net.init(jax.random.key(3), jnp.asarray(x))
    pred = np.asarray(predict_from_counts(net.apply(params, jnp.asarray(x)).times)[0])
    assert (pred >= 0).all()
    y = pred.astype(np.int32)
    y[0] = (y[0] + 1) % 3
    return net, params, x, y


def clean_accuracy(net, params, x, y, readout):
    out = net.apply(params, jnp.asarray(x))
    pred = (predict_from_counts if readout == "count" else predict_from_first_spike)(out.times)[0]
    return float(np.mean((np.asarray(pred) == y) & (np.asarray(pred) >= 0)))


LEVELS = {
    "input_jitter": [0.0, 0.05],
    "input_deletion": [0.0, 0.5],
    "weight_noise": [0.0, 0.5],
    "hidden_jitter": [0.0, 0.05],
}


@pytest.mark.parametrize("kind", analysis.KINDS)
def test_sweep_vmap_equals_python_loop_and_level_zero_is_clean(tiny_net, kind):
    net, params, x, y = tiny_net
    kw = dict(n_seeds=3, key=jax.random.key(5), readout="count", batch_size=3)
    res = analysis.robustness_sweep(kind, net, params, x, y, LEVELS[kind], **kw)
    ref = analysis.robustness_sweep(kind, net, params, x, y, LEVELS[kind], python_loop=True, **kw)
    assert res.per_seed.shape == (2, 3)
    assert res.kind == kind
    assert res.n_samples == 7
    np.testing.assert_array_equal(res.per_seed, ref.per_seed)
    np.testing.assert_array_equal(res.n_input_overflow, ref.n_input_overflow)
    # The other ways of batching the seeds give the same draws and accuracies too (the
    # default, "auto", is "map" on CPU and "vmap" elsewhere: same numbers).
    for other in {"input_jitter": ("fold", "vmap", "map")}.get(kind, ("vmap", "map")):
        alt = analysis.robustness_sweep(
            kind, net, params, x, y, LEVELS[kind], seed_mode=other, **kw
        )
        np.testing.assert_array_equal(alt.per_seed, ref.per_seed)
    clean = clean_accuracy(net, params, x, y, "count")
    np.testing.assert_array_equal(res.per_seed[0], clean)
    assert res.std[0] == 0.0
    np.testing.assert_allclose(res.mean, res.per_seed.mean(axis=1))
    assert ((res.per_seed >= 0) & (res.per_seed <= 1)).all()
    assert clean == pytest.approx(6 / 7)  # labels = clean predictions but one
    # The noise really acts: one noisy forward pass differs from the clean one at the
    # nonzero level and equals it at level 0.
    clean_times = np.asarray(net.apply(params, jnp.asarray(x)).times)
    key = jax.random.key(11)
    noisy = lambda lv: np.asarray(analysis.noisy_outputs(kind, net, params, x, lv, key).times)
    np.testing.assert_array_equal(noisy(0.0), clean_times)
    assert not np.array_equal(noisy(LEVELS[kind][1]), clean_times)


def test_sweep_does_not_depend_on_batch_size_and_ttfs_readout(tiny_net):
    net, params, x, y = tiny_net
    kw = dict(n_seeds=4, key=7, readout="ttfs")
    a = analysis.input_jitter_sweep(net, params, x, y, [0.0, 0.01], batch_size=7, **kw)
    b = analysis.input_jitter_sweep(net, params, x, y, [0.0, 0.01], batch_size=2, **kw)
    np.testing.assert_array_equal(a.per_seed, b.per_seed)
    np.testing.assert_array_equal(a.per_seed[0], clean_accuracy(net, params, x, y, "ttfs"))
    assert a.readout == "ttfs"


def test_perturbations():
    key = jax.random.key(0)
    t = jnp.array([[0.01, 0.02, INF], [INF, INF, INF], [0.0, 0.5, 0.6]], jnp.float32)
    j = np.asarray(analysis.jitter_spike_times(t, 0.05, key))
    assert (np.isfinite(j) == np.isfinite(np.asarray(t))).all()  # empty slots stay empty
    assert (j >= 0).all()
    for row in j:  # sorted, finite first
        np.testing.assert_array_equal(row, np.sort(row))
    assert not np.array_equal(j, t)
    np.testing.assert_array_equal(analysis.jitter_spike_times(t, 0.0, key), t)
    # A large negative shift is clipped at exactly 0.
    big = np.asarray(analysis.jitter_spike_times(jnp.full((200, 1), 0.001), 1.0, key))
    assert (big == 0).any()
    assert (big >= 0).all()

    np.testing.assert_array_equal(analysis.delete_spikes(t, 0.0, key), t)
    assert np.isinf(np.asarray(analysis.delete_spikes(t, 1.0, key))).all()
    d = np.asarray(analysis.delete_spikes(jnp.tile(t, (50, 1)), 0.5, key))
    kept = np.isfinite(d).sum() / np.isfinite(np.tile(t, (50, 1))).sum()
    assert 0.35 < kept < 0.65
    for row in d:  # survivors first, sorted
        fin = row[np.isfinite(row)]
        np.testing.assert_array_equal(row[: fin.size], np.sort(fin))

    params = {"params": {"layers_0": {"kernel": jnp.ones((3, 2))}, "other": jnp.ones(2)}}
    same = analysis.perturb_weights(params, 0.0, key)
    np.testing.assert_array_equal(same["params"]["layers_0"]["kernel"], 1.0)
    noisy = analysis.perturb_weights(params, 0.3, key)
    assert not np.allclose(noisy["params"]["layers_0"]["kernel"], 1.0)
    np.testing.assert_array_equal(noisy["params"]["other"], 1.0)
    with pytest.raises(ValueError, match="kernel"):
        analysis.perturb_weights({"w": jnp.ones(2)}, 0.1, key)


def test_auto_seed_mode_follows_the_platform_and_sizes_its_calls():
    """ "auto" is lax.map on CPU (measured faster there) and vmap on accelerators; the
    default batch holds ~1024 noisy samples per call for vmap/fold, 256 for map."""
    assert robustness.AUTO_SEED_MODE == {"cpu": "map"}
    expected = robustness.AUTO_SEED_MODE.get(jax.default_backend(), "vmap")
    x = np.zeros((3, 2, 1), np.float32)
    resolved = robustness._check_sweep(
        "input_jitter", lambda p, t: t, "count", x, np.zeros(3, int), [0.1], 4, "auto", False
    )
    assert resolved[-1] == expected
    assert robustness._default_batch_size("vmap", 16) == 64
    assert robustness._default_batch_size("fold", 5) == 205
    assert robustness._default_batch_size("map", 16) == 256


@pytest.mark.skipif("ffi" not in available_backends(), reason="no compiled CPU kernel")
def test_vmap_seed_mode_is_one_batched_kernel_call_per_layer_on_cpu(tiny_net):
    """seed_mode="vmap" on CPU runs each layer's compiled kernel once for all seeds (weight
    sets folded into the kernel's batch), not once per seed in a loop."""
    net, params, x, y = tiny_net
    compiled = robustness._compiled("weight_noise", net, "count", "vmap")
    keys = jax.random.split(jax.random.key(0), 4)
    idx = jnp.arange(x.shape[0])
    mask = jnp.ones(x.shape[0], bool)
    hlo = compiled.lower(params, x, y, mask, idx, jnp.float32(0.1), keys).as_text()
    calls = [ln for ln in hlo.splitlines() if "custom_call @SnnjaxLifForwardTimes" in ln]
    assert len(calls) == 2  # two layers, one call each
    n_folded = 4 * x.shape[0]  # seeds x samples in the kernel's batch (no loop over seeds)
    assert all(f"-> (tensor<{n_folded}x" in ln for ln in calls), calls


def test_sweep_validates_arguments(tiny_net):
    net, params, x, y = tiny_net
    with pytest.raises(ValueError, match="kind"):
        analysis.robustness_sweep("gamma_rays", net, params, x, y, [0.0], 2, 0)
    with pytest.raises(ValueError, match="deletion"):
        analysis.input_deletion_sweep(net, params, x, y, [1.5], 2, 0)
    with pytest.raises(ValueError, match="readout"):
        analysis.input_jitter_sweep(net, params, x, y, [0.0], 2, 0, readout="rate")
    with pytest.raises(ValueError, match="fold"):
        analysis.weight_noise_sweep(net, params, x, y, [0.0], 2, 0, seed_mode="fold")
    with pytest.raises(ValueError, match="seed_mode must be 'auto' or one of"):
        analysis.input_jitter_sweep(net, params, x, y, [0.0], 2, 0, seed_mode="batched")
    with pytest.raises(TypeError, match="SpikingNetwork"):
        analysis.hidden_jitter_sweep(net.apply, params, x, y, [0.0], 2, 0)


# ------------------------------------------------------------------------ evaluation


def test_evaluate_tradeoffs_is_consistent(tiny_net):
    net, params, x, y = tiny_net
    ev = analysis.evaluate_tradeoffs(net, params, x, y, "count", batch_size=3)
    out = net.apply(params, jnp.asarray(x))
    pred = np.asarray(predict_from_counts(out.times)[0])
    np.testing.assert_array_equal(ev.pred, pred)
    np.testing.assert_array_equal(ev.output_times, np.asarray(out.times))
    np.testing.assert_array_equal(ev.spikes[:, 1], np.isfinite(out.times).sum((1, 2)))
    np.testing.assert_array_equal(ev.input_spikes, np.isfinite(x).sum((1, 2)))
    np.testing.assert_allclose(ev.synops, analysis.synaptic_operations(net, x, out.layer_times))
    hidden_totals = np.isfinite(np.asarray(out.layer_times[0])).sum((0, 2))
    assert ev.silent_neurons[0] == pytest.approx(np.mean(hidden_totals == 0))
    np.testing.assert_array_equal(ev.decision_time, analysis.decision_time(out.times, "count"))
    s = ev.summary()
    assert s["accuracy"] == pytest.approx(clean_accuracy(net, params, x, y, "count"))
    assert s["n_samples"] == 7
    assert set(s["spikes_per_sample"]) == {"hidden1", "output"}
    assert s["total_synops_per_sample"] == pytest.approx(ev.synops.sum(1).mean())
    # Same numbers in one batch (the padded last batch is masked out everywhere).
    ev1 = analysis.evaluate_tradeoffs(net, params, x, y, "count", batch_size=7)
    np.testing.assert_array_equal(ev1.silent_neurons, ev.silent_neurons)
    np.testing.assert_array_equal(ev1.spikes, ev.spikes)


# ----------------------------------------------------------------------- convergence


def test_epochs_to_accuracy():
    curves = np.array([[0.5, 0.8, 0.95, 0.9], [0.2, 0.3, 0.4, 0.5], [0.99, 1.0, 1.0, 1.0]])
    np.testing.assert_array_equal(analysis.epochs_to_accuracy(curves, 0.9), [3, INF, 1])
    np.testing.assert_array_equal(
        analysis.epochs_to_accuracy(curves, 0.9, epochs=[10, 20, 30, 40]), [30, INF, 10]
    )
    assert analysis.epochs_to_accuracy([np.nan, 0.95], 0.9) == 2
    rows = [
        {"epoch": 2, "validation_accuracy": 0.7},
        {"epoch": 1, "validation_accuracy": None},
        {"epoch": 2, "validation_accuracy": 0.8},
    ]
    e, a = analysis.accuracy_curve(rows)
    np.testing.assert_array_equal(e, [1, 2])
    np.testing.assert_array_equal(a, [np.nan, 0.8])


def test_convergence_map_tiny_grid():
    for readout in ("count", "ttfs"):
        cmap = analysis.convergence_map(
            readout, means=[0.6, 1.4], stds=[0.4, 1.0], n_runs=4, key=jax.random.key(0), n_steps=20
        )
        assert cmap.solved.shape == (2, 2)
        assert cmap.n_runs == 4
        for field in ("solved", "final", "best_accuracy", "initial"):
            v = getattr(cmap, field)
            assert ((v >= 0) & (v <= 1)).all()
        assert (cmap.solved >= cmap.final).all()
        assert (cmap.solved >= cmap.initial).all()


def test_toy_gradient_descent_changes_the_outcome_and_fold_equals_vmap():
    # A hand-made solution (reference inputs as biases, +-3 on the ordered inputs) is right
    # for both readouts from the start and stays right; it is the last run of each batch.
    good = jnp.array([[[0.5, 0.5], [0.5, 0.5], [3.0, -3.0], [-3.0, 3.0]]])
    w0 = 1.2 + 1.0 * jax.random.normal(jax.random.key(1), (16, 4, 2))
    curves = np.asarray(analysis.toy_convergence_runs(jnp.concatenate([w0, good]), "count"))
    assert curves.shape == (17, 51)
    assert set(np.unique(curves)) <= {0.0, 0.5, 1.0}
    assert (curves[-1] == 1).all()
    learned = (curves[:-1, 0] < 1.0) & (curves[:-1, -1] == 1.0)
    assert learned.any(), "plain GD never turned a wrong initialisation into a right one"
    few = jnp.concatenate([w0[:3], good])
    fold = analysis.toy_convergence_runs(few, "ttfs", method="fold", n_steps=10)
    vmap = analysis.toy_convergence_runs(few, "ttfs", method="vmap", n_steps=10)
    np.testing.assert_array_equal(fold, vmap)
    assert (np.asarray(fold)[-1] == 1).all()
