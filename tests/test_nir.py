"""NIR export/import (snnjax.nir): round trips, nir's own validation, rejection of graphs
snnjax cannot represent, and the CubaLIF mapping checked against NIR's ODE as written."""

from __future__ import annotations

import copy

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from snnjax.nir import export_nir, import_nir, load_nir, save_nir  # noqa: E402
from snnjax.nn import (  # noqa: E402
    LIFConv,
    LIFDense,
    SpikeUnionPool,
    SpikingNetwork,
    make_conv_network,
    make_network,
)
from snnjax.reference import simulate_layer  # noqa: E402

INF = np.inf


def random_trains(rng, shape, k, t_hi, p_empty=0.3):
    """``[*shape, k]`` sorted spike trains in ``[0, t_hi)``, each slot empty w.p. p_empty."""
    t = rng.uniform(0.0, t_hi, tuple(shape) + (k,))
    t[rng.uniform(size=t.shape) < p_empty] = INF
    return np.sort(t, axis=-1)


def dense_net():
    """4 -> 5 -> 3, per-neuron thresholds, a reset != theta and an input-event bound."""
    return make_network(
        [
            dict(
                type="dense",
                features=5,
                max_spikes=4,
                theta=np.array([0.01, 0.012, 0.008, 0.01, 0.015]),
                delta_theta=0.006,
                init=["uniform", -2.0, 8.0],
                max_input_events=12,
            ),
            dict(type="dense", features=3, max_spikes=5, theta=0.01, init=["uniform", -2.0, 8.0]),
        ],
        input_shape=(4,),
        tau_syn=0.005,
        t_max=0.06,
    )


def conv_net(dtype=jnp.float32):
    """8x8x1 -> conv3x3x2 -> pool2 -> flatten -> 3."""
    return make_conv_network(
        input_shape=(8, 8, 1),
        conv_features=(2,),
        kernel_size=3,
        dense_sizes=(3,),
        thetas=(0.02, 0.02),
        max_spikes=(3, 4),
        tau_syn=0.005,
        t_max=0.06,
        init=(("uniform", -1.0, 4.0), ("uniform", -0.5, 1.5)),
        param_dtype=dtype,
    )


def same_tree(a, b):
    """Same structure (paths), dtypes, shapes and values; chex names the differing leaf."""
    la, lb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    chex.assert_trees_all_equal_shapes_and_dtypes(a, b)
    chex.assert_trees_all_equal(a, b)


def same_attrs(m1: SpikingNetwork, m2: SpikingNetwork):
    assert m1.input_shape == m2.input_shape
    assert [type(a) for a in m1.layers] == [type(b) for b in m2.layers]
    for a, b in zip(m1.layers, m2.layers, strict=True):
        if isinstance(a, (LIFDense, LIFConv)):
            for f in (
                "features",
                "max_spikes",
                "tau_syn",
                "theta",
                "delta_theta",
                "t_max",
                "max_input_events",
            ):
                np.testing.assert_array_equal(
                    np.asarray(getattr(a, f), object if getattr(a, f) is None else None),
                    np.asarray(getattr(b, f), object if getattr(b, f) is None else None),
                    err_msg=f,
                )
        if isinstance(a, LIFConv):
            assert tuple(a.kernel_size) == tuple(b.kernel_size)
        if isinstance(a, SpikeUnionPool):
            assert a.window == b.window
            assert a.max_spikes == b.max_spikes


# ----------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_round_trip_identical_params_and_spike_times(kind, tmp_path):
    rng = np.random.default_rng(0)
    if kind == "dense":
        net, x = dense_net(), random_trains(rng, (3, 4), 3, 0.03).astype(np.float32)
    else:
        net, x = conv_net(), random_trains(rng, (2, 8, 8, 1), 1, 0.03).astype(np.float32)
    params = net.init(jax.random.key(1), x)
    out = net.apply(params, x)
    assert np.isfinite(np.asarray(out.times)).sum() > 3  # the test network does spike
    path = tmp_path / f"{kind}.nir"
    graph = save_nir(net, params, path)
    for g in (graph, nir.read(path)):  # in memory and through the file
        net2, params2 = import_nir(g)
        same_attrs(net, net2)
        same_tree(params, params2)
        out2 = net2.apply(params2, x)
        chex.assert_trees_all_equal(out, out2)
    _net3, params3 = load_nir(path)
    same_tree(params, params3)


def test_exported_graph_validates_with_nir(tmp_path):
    net, rng = conv_net(), np.random.default_rng(0)
    params = {
        "params": {
            "layers_0": {"kernel": rng.normal(size=(3, 3, 1, 2)).astype("f4")},
            "layers_3": {"kernel": rng.normal(size=(18, 3)).astype("f4")},
        }
    }
    graph = export_nir(net, params)
    graph.validate_structure()
    graph.infer_types()
    assert graph.check_types()
    assert [type(graph.nodes[b]).__name__ for _, b in graph.edges] == [
        "Conv2d",
        "CubaLIF",
        "SumPool2d",
        "Flatten",
        "Linear",
        "CubaLIF",
        "Output",
    ]
    assert np.array_equal(graph.nodes["input"].output_type["output"], [1, 8, 8])
    assert np.array_equal(graph.nodes["layers_0_lif"].input_type["input"], [2, 6, 6])
    assert np.array_equal(graph.nodes["layers_2_flatten"].output_type["output"], [18])
    nir.write(tmp_path / "g.nir", graph)
    back = nir.read(tmp_path / "g.nir")  # type-checks again while reading
    assert back.check_types()
    assert back.edges == graph.edges
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node)
        for field in (
            "weight",
            "tau_syn",
            "tau_mem",
            "r",
            "v_leak",
            "v_threshold",
            "v_reset",
            "w_in",
            "kernel_size",
            "stride",
        ):
            if hasattr(node, field):
                np.testing.assert_array_equal(
                    np.asarray(getattr(node, field)), np.asarray(getattr(other, field))
                )
    # the dict form re-validates too
    again = nir.NIRGraph.from_dict(copy.deepcopy(graph.to_dict()))
    assert again.check_types()


def test_exported_fields():
    net = dense_net()
    params = net.init(jax.random.key(0), np.zeros((1, 4, 1), np.float32))
    graph = export_nir(net, params)
    lin, lif = graph.nodes["layers_0_linear"], graph.nodes["layers_0_lif"]
    np.testing.assert_array_equal(lin.weight, np.asarray(params["params"]["layers_0"]["kernel"]).T)
    tau_s = np.full(5, 0.005)
    np.testing.assert_allclose(lif.tau_syn, tau_s)
    np.testing.assert_allclose(lif.tau_mem, 2 * tau_s)
    np.testing.assert_allclose(lif.w_in, tau_s)
    np.testing.assert_allclose(lif.r, 2 * tau_s)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    np.testing.assert_allclose(lif.v_threshold, net.layers[0].theta)
    np.testing.assert_allclose(lif.v_reset, net.layers[0].theta - 0.006)
    assert lif.metadata["reset"] == "subtractive"
    assert lif.metadata["max_spikes"] == 4
    assert lif.metadata["t_max"] == 0.06
    assert lif.metadata["max_input_events"] == 12
    np.testing.assert_allclose(graph.nodes["layers_1_lif"].v_reset, 0.0)  # delta = theta


# ----------------------------------------------------------------------------------------
# the exported conv graph, interpreted in NIR's own layout, gives snnjax's spike times


def _nir_conv_matrix(weight, h, w):
    """Dense ``[C*H*W, F*H'*W']`` matrix of NIR's Conv2d (cross-correlation, valid, stride 1)
    in NIR's (c, h, w) row-major indexing, written from the definition."""
    f_out, c_in, kh, kw = weight.shape
    ho, wo = h - kh + 1, w - kw + 1
    m = np.zeros((c_in * h * w, f_out * ho * wo))
    for f in range(f_out):
        for p in range(ho):
            for q in range(wo):
                for c in range(c_in):
                    for di in range(kh):
                        for dj in range(kw):
                            m[(c * h + p + di) * w + q + dj, (f * ho + p) * wo + q] = weight[
                                f, c, di, dj
                            ]
    return m


def _lif_args(node):
    """The neuron of a CubaLIF node exported by snnjax (uniform parameters)."""
    tau_syn = float(node.tau_syn.flat[0])
    theta = float(node.v_threshold.flat[0])
    return dict(
        tau_syn=tau_syn,
        theta=theta,
        delta_theta=theta - float(node.v_reset.flat[0]),
        max_spikes=int(node.metadata["max_spikes"]),
        t_max=float(node.metadata["t_max"]),
    )


def test_conv_graph_layouts_against_nir_definitions():
    """An independent interpreter of the exported graph (NIR layouts, SumPool2d = sum of
    event trains, Flatten in (c, h, w) order) reproduces snnjax's spike times (float64)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        net = conv_net(jnp.float64)
        x = random_trains(rng, (2, 8, 8, 1), 1, 0.03)
        params = net.init(jax.random.key(2), x)
        out = net.apply(params, x)
        graph = export_nir(net, params)
    conv, lif0 = graph.nodes["layers_0_conv"], graph.nodes["layers_0_lif"]
    lin, lif1 = graph.nodes["layers_3_linear"], graph.nodes["layers_3_lif"]
    m = _nir_conv_matrix(conv.weight, 8, 8)
    n_spikes = 0
    for b in range(x.shape[0]):
        xin = x[b].transpose(2, 0, 1, 3).reshape(64, -1)  # snnjax [H, W, C, K] -> NIR (c,h,w)
        t1, d1 = simulate_layer(xin, m, **_lif_args(lif0))  # [2*6*6, K]
        assert d1.sum() == 0
        snn1 = np.asarray(out.layer_times[0][b]).transpose(2, 0, 1, 3).reshape(72, -1)
        np.testing.assert_allclose(t1, snn1, rtol=0, atol=1e-9)
        maps = t1.reshape(2, 3, 2, 3, 2, -1)  # (c, i, a, j, b', K): window (a, b')
        pooled = np.sort(maps.transpose(0, 1, 3, 2, 4, 5).reshape(2, 3, 3, -1), axis=-1)
        t2, d2 = simulate_layer(pooled.reshape(18, -1), lin.weight.T, **_lif_args(lif1))
        assert d2.sum() == 0
        np.testing.assert_allclose(t2, np.asarray(out.times[b]), rtol=0, atol=1e-9)
        n_spikes += np.isfinite(t2).sum()
    assert n_spikes > 2


# ----------------------------------------------------------------------------------------
# the CubaLIF mapping: NIR's ODE as written, integrated with small steps


def _integrate_nir_cubalif(lif, weight, input_times, t_end, dt=1e-5):
    """Forward-Euler integration of NIR's CubaLIF equations, literally::

        tau_syn dI/dt = -I + w_in S,   tau_mem dv/dt = (v_leak - v) + r I,
        spike when v > v_threshold, then v = v_reset,

    with ``S = sum_k (W x)_k delta(t - t_k)`` (the Linear node's output for input spikes):
    a Dirac integrated over a step adds ``w_in W / tau_syn`` to ``I``.

    Returns one list of spike times per neuron.
    """
    tau_syn, tau_mem, r = lif.tau_syn, lif.tau_mem, lif.r
    v_leak, thr, v_reset, w_in = lif.v_leak, lif.v_threshold, lif.v_reset, lif.w_in
    n_steps = int(np.rint(t_end / dt))
    drive = np.zeros((n_steps + 1, weight.shape[0]))  # summed Dirac weights per step
    for j, row in enumerate(input_times):
        for t in row[np.isfinite(row)]:
            drive[int(np.ceil(t / dt - 1e-9))] += weight[:, j]
    i_syn = np.zeros(weight.shape[0])
    v = np.zeros(weight.shape[0])
    spikes = [[] for _ in range(weight.shape[0])]
    for n in range(n_steps):
        i_syn = i_syn + w_in * drive[n] / tau_syn  # the Dirac part of tau_syn dI/dt
        v = v + dt / tau_mem * ((v_leak - v) + r * i_syn)
        i_syn = i_syn + dt / tau_syn * (-i_syn)
        fired = v > thr
        for k in np.flatnonzero(fired):
            spikes[k].append((n + 1) * dt)
        v = np.where(fired, v_reset, v)
    return spikes


def test_cubalif_mapping_matches_nir_ode():
    """Spike times of NIR's ODE with the exported parameters equal snnjax's closed form
    within a few dt, for multi-spike neurons with a reset delta_theta != theta."""
    x = np.array([[[0.001, 0.012, 0.03], [0.004, 0.013, INF], [0.02, 0.021, 0.035]]])
    net = SpikingNetwork(
        [LIFDense(3, max_spikes=8, tau_syn=0.005, theta=0.01, delta_theta=0.004, t_max=0.06)]
    )
    kernel = np.array([[2.1, 0.9, 3.6], [1.8, -1.2, 0.6], [1.5, 2.7, -0.9]])
    with jax.enable_x64(True):
        params = {"params": {"layers_0": {"kernel": jnp.asarray(kernel)}}}
        out = net.apply(params, x)
        graph = export_nir(net, params)
    snn = np.asarray(out.times[0])
    assert int(np.asarray(out.n_dropped[0]).sum()) == 0
    ode = _integrate_nir_cubalif(
        graph.nodes["layers_0_lif"], graph.nodes["layers_0_linear"].weight, x[0], t_end=0.06
    )
    dt = 1e-5
    n_multi = 0
    for k in range(3):
        exact = snn[k][np.isfinite(snn[k])]
        assert len(ode[k]) == len(exact), (k, ode[k], exact)
        np.testing.assert_allclose(ode[k], exact, rtol=0, atol=5 * dt)
        n_multi += len(exact) > 1
    assert n_multi >= 2  # several neurons fire several times: the reset is exercised
    # The check is sensitive: the tempting w_in = 1 (a spike adds W, not W / tau_syn, to I)
    # or a reset to 0 instead of theta - delta_theta give clearly different spike trains.
    for change in (dict(w_in=np.ones(3)), dict(v_reset=np.zeros(3))):
        lif = copy.copy(graph.nodes["layers_0_lif"])
        for f, v in change.items():
            setattr(lif, f, v)
        wrong = _integrate_nir_cubalif(lif, graph.nodes["layers_0_linear"].weight, x[0], 0.06)
        assert any(
            len(w) != np.isfinite(s).sum()
            or np.max(np.abs(np.asarray(w) - s[np.isfinite(s)])) > 50 * dt
            for w, s in zip(wrong, snn, strict=True)
        ), change


# ----------------------------------------------------------------------------------------
# rejections


def _lif(n, tau_syn=0.005, **over):
    kw = dict(
        tau_syn=np.full(n, tau_syn),
        tau_mem=np.full(n, 2 * tau_syn),
        r=np.full(n, 2 * tau_syn),
        v_leak=np.zeros(n),
        v_threshold=np.full(n, 0.01),
        v_reset=np.zeros(n),
        w_in=np.full(n, tau_syn),
    )
    kw.update(over)
    return nir.CubaLIF(**kw)


def _graph(*nodes):
    return nir.NIRGraph.from_list(*nodes)


W = np.arange(6.0).reshape(2, 3)


def test_import_foreign_graph_needs_static_settings_and_folds_scaling():
    # A foreign CubaLIF with w_in = 1 and r = tau_mem tau_syn (also r w_in = tau_mem tau_syn).
    g = _graph(nir.Linear(weight=W), _lif(2, w_in=np.ones(2), r=np.full(2, 0.01 * 0.005)))
    with pytest.raises(ValueError, match="max_spikes"):
        import_nir(g)
    with pytest.raises(ValueError, match="t_max"):
        import_nir(g, max_spikes=3)
    net, params = import_nir(g, max_spikes=3, t_max=0.1)
    np.testing.assert_allclose(np.asarray(params["params"]["layers_0"]["kernel"]), W.T)
    assert net.layers[0].max_spikes == 3
    assert net.layers[0].delta_theta is None
    # A scale s = r w_in / (tau_mem tau_syn) != 1 multiplies the effective weights.
    g = _graph(nir.Linear(weight=W), _lif(2, w_in=np.array([2.0, 0.5]) * 0.005))
    _, params = import_nir(g, max_spikes=3, t_max=0.1)
    np.testing.assert_allclose(
        np.asarray(params["params"]["layers_0"]["kernel"]), W.T * np.array([2.0, 0.5]), rtol=1e-6
    )


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ((nir.Affine(weight=W, bias=np.array([0.0, 0.1])), _lif(2)), "nonzero bias"),
        ((nir.Linear(weight=W), _lif(2, tau_mem=np.full(2, 0.02))), "tau_mem != 2 \\* tau_syn"),
        ((nir.Linear(weight=W), _lif(2, v_leak=np.full(2, -0.001))), "v_leak != 0"),
        ((nir.Linear(weight=W), _lif(2, v_reset=np.full(2, 0.02))), "v_reset >= v_threshold"),
        ((nir.Linear(weight=W), _lif(2, v_threshold=np.array([0.01, -0.01]))), "v_threshold must"),
        (
            (
                nir.Linear(weight=W),
                nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)),
            ),
            "must be followed by a CubaLIF",
        ),
        (
            (nir.Linear(weight=W), _lif(2), nir.Scale(scale=np.ones(2))),
            "Scale is not representable",
        ),
        ((nir.Linear(weight=W),), "must be followed by a CubaLIF"),
        ((_lif(3),), "must follow a Linear"),
        (
            (
                nir.Conv2d(
                    input_shape=(6, 6),
                    weight=np.ones((2, 1, 3, 3)),
                    stride=2,
                    padding=0,
                    dilation=1,
                    groups=1,
                    bias=np.zeros(2),
                ),
                _lif(2),
            ),
            "stride",
        ),
        (
            (
                nir.Conv2d(
                    input_shape=(6, 6),
                    weight=np.ones((2, 1, 3, 3)),
                    stride=1,
                    padding=1,
                    dilation=1,
                    groups=1,
                    bias=np.zeros(2),
                ),
                _lif(2),
            ),
            "padding",
        ),
    ],
)
def test_import_rejects_unrepresentable(nodes, message):
    if isinstance(nodes[0], nir.Conv2d):  # the LIF needs the conv's output shape
        shape = (2, 2, 2) if nodes[0].stride[0] == 2 else (2, 6, 6)
        n = int(np.prod(shape))
        lif = _lif(n)
        kw = {
            f: getattr(lif, f).reshape(shape)
            for f in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
        }
        nodes = (nir.Input(input_type=np.array([1, 6, 6])), nodes[0], nir.CubaLIF(**kw))
        g = nir.NIRGraph.from_list(*nodes)
    else:
        first = nodes[0]
        n_in = first.weight.shape[1] if hasattr(first, "weight") else 3
        g = nir.NIRGraph.from_list(nir.Input(input_type=np.array([n_in])), *nodes, type_check=False)
    with pytest.raises(ValueError, match=message) as err:
        import_nir(g, max_spikes=2, t_max=0.1)
    assert "node '" in str(err.value)  # names the node


def test_import_rejects_conv_params_varying_over_positions_and_avgpool():
    shape = (2, 4, 4)
    theta = np.full(shape, 0.01)
    theta[1, 2, 3] = 0.02
    lif = _lif(32)
    kw = {
        f: getattr(lif, f).reshape(shape)
        for f in ("tau_syn", "tau_mem", "r", "v_leak", "v_reset", "w_in")
    }
    conv = nir.Conv2d(
        input_shape=(6, 6),
        weight=np.ones((2, 1, 3, 3)),
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=np.zeros(2),
    )
    g = _graph(
        nir.Input(input_type=np.array([1, 6, 6])), conv, nir.CubaLIF(v_threshold=theta, **kw)
    )
    with pytest.raises(ValueError, match="theta varies across positions"):
        import_nir(g, max_spikes=2, t_max=0.1)
    g = _graph(
        nir.Input(input_type=np.array([1, 6, 6])),
        conv,
        nir.CubaLIF(v_threshold=np.full(shape, 0.01), **kw),
        nir.AvgPool2d(
            kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])
        ),
    )
    with pytest.raises(ValueError, match="AvgPool2d"):
        import_nir(g, max_spikes=2, t_max=0.1)


def test_import_rejects_non_chain_and_metadata_reset():
    g = _graph(nir.Linear(weight=W), _lif(2))
    g.edges.append(("input", "output"))
    with pytest.raises(ValueError, match="several successors"):
        import_nir(g, max_spikes=2, t_max=0.1)
    lif = _lif(2)
    lif.metadata = {"reset": "to_zero"}
    with pytest.raises(ValueError, match="metadata reset='to_zero'"):
        import_nir(_graph(nir.Linear(weight=W), lif), max_spikes=2, t_max=0.1)


def test_export_rejects_unsupported():
    class Other(nn.Module):
        def __call__(self, x):
            return x

    net = SpikingNetwork([LIFDense(3, max_spikes=2), Other()])
    params = {"params": {"layers_0": {"kernel": jnp.ones((4, 3))}}}
    with pytest.raises(ValueError, match="layers_1 \\(Other\\) is not supported"):
        export_nir(net, params)
    conv = SpikingNetwork([LIFConv(2, kernel_size=3)])
    with pytest.raises(ValueError, match="input shape is unknown"):
        export_nir(conv, {"params": {"layers_0": {"kernel": jnp.ones((3, 3, 1, 2))}}})
    with pytest.raises(ValueError, match="Flatten before it"):
        export_nir(
            SpikingNetwork([LIFDense(3, max_spikes=2)], input_shape=(4, 4, 1)),
            {"params": {"layers_0": {"kernel": jnp.ones((1, 3))}}},
        )
