"""Export to and import from NIR, the Neuromorphic Intermediate Representation (PyPI ``nir``).

A :class:`snnjax.nn.SpikingNetwork` becomes a chain of NIR nodes::

    Input -> [Linear | Conv2d] -> CubaLIF -> ... -> [SumPool2d] -> [Flatten] -> ... -> Output

and a NIR graph of exactly that form becomes a ``SpikingNetwork`` and its parameters again.
The mapping, its derivation and what NIR cannot express are in ``docs/nir.md``; in short:

* **Neuron.** NIR's ``CubaLIF`` (nir 1.0) is ``tau_syn dI/dt = -I + w_in S``,
  ``tau_mem dv/dt = (v_leak - v) + r I``, spike when ``v > v_threshold``, then
  ``v = v_reset``. snnjax's neuron is ``dI/dt = -I/tau_syn`` with ``I += w`` per input spike
  and ``du/dt = -u/tau_mem + I`` (no resistance, no ``1/tau`` on the current), spike at
  ``u = theta``, then ``u -= delta_theta``. The input ``S`` of a ``CubaLIF`` node is the
  output of the preceding ``Linear`` node, ``S(t) = sum_k W_k delta(t - t_k)`` (one Dirac
  per input spike, weighted). Integrating NIR's synapse over a Dirac gives the jump
  ``I -> I + w_in W / tau_syn``; the membrane is ``dv/dt = -v/tau_mem + (r/tau_mem) I``.
  Hence ``v == u`` for every input iff ``W = w`` and ``(r/tau_mem)(w_in/tau_syn) = 1``, i.e.
  ``r * w_in = tau_mem * tau_syn``. snnjax exports ``w_in = tau_syn`` and ``r = tau_mem``,
  which also makes NIR's current ``I`` equal to snnjax's current. ``v_leak = 0``,
  ``v_threshold = theta``.
* **Reset.** NIR's ``CubaLIF`` resets to a value; snnjax subtracts ``delta_theta``. In
  continuous time the spike happens exactly at ``v = theta``, so subtracting
  ``delta_theta`` *is* setting ``v = theta - delta_theta``: snnjax exports
  ``v_reset = theta - delta_theta`` (0 for the default ``delta_theta = theta``) and records
  ``reset = "subtractive"`` and ``delta_theta`` in the node metadata. (A time-stepped
  consumer overshoots ``theta`` by ``O(dt)``; subtractive and to-value reset then differ by
  that overshoot.)
* **Pooling.** Spike-union pooling (the time-sorted merge of the window's trains, keeping
  every spike) is ``SumPool2d`` with ``kernel_size = stride = window``: the sum of the
  window's Dirac trains is the union of its events, counted with multiplicity, and the
  next layer (a ``Linear``/``Conv2d`` followed by ``CubaLIF``) is linear in its input.
* **Layouts.** snnjax kernels ``[n_in, n_out]`` become ``Linear.weight [n_out, n_in]``;
  conv kernels ``[kh, kw, C_in, C_out]`` become ``Conv2d.weight [C_out, C_in, kh, kw]``
  (cross-correlation, "valid", stride 1, as in snnjax). NIR shapes are channel-first
  ``(C, H, W)``; snnjax feature maps are ``[H, W, C]``. ``Flatten`` merges every dim of
  the NIR type (``start_dim=0``) in ``(c, h, w)`` order, so the kernel of the dense layer
  after a flatten is permuted from snnjax's ``(h, w, c)`` row order.
* **What NIR cannot carry** (stored as node metadata and restored by :func:`import_nir`,
  or given as its keyword arguments): the spike buffers ``max_spikes`` (a NIR neuron fires
  without limit: the graph equals the snnjax network on inputs for which snnjax reports no
  dropped spikes), ``t_max`` (simulate ``[0, t_max]`` and discard later spikes),
  ``max_input_events`` and a truncating pool's ``max_spikes``.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from snnjax.nn import make_dense_network
  >>> from snnjax.nir import export_nir, import_nir
  >>> net = make_dense_network(sizes=(4, 3, 2), thetas=(0.2, 0.5), max_spikes=(3, 3))
  >>> params = net.init(jax.random.key(0), jnp.zeros((1, 4, 1)))
  >>> graph = export_nir(net, params)
  >>> sorted(graph.nodes)
  ['input', 'layers_0_lif', 'layers_0_linear', 'layers_1_lif', 'layers_1_linear', 'output']
  >>> net2, params2 = import_nir(graph)
  >>> [m.max_spikes for m in net2.layers]
  [3, 3]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

import snnjax
from snnjax.nn import Flatten, LIFConv, LIFDense, SpikeUnionPool, SpikingNetwork

if TYPE_CHECKING:  # pragma: no cover
    import nir as nir_types

__all__ = ["MAPPING_VERSION", "export_nir", "import_nir", "load_nir", "save_nir"]

MAPPING_VERSION = "snnjax-cubalif-1"
"""Identifier of the mapping below, stored in the graph metadata."""

_FROM_METADATA: Any = object()  # sentinel: "take the value from the node metadata"

# Relative tolerance of the checks on imported floating-point parameters (a producer may
# have computed tau_mem = 2 tau_syn or r * w_in in float32).
_RTOL = 1e-6


def _nir():
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("snnjax.nir needs the 'nir' package: pip install 'snnjax[nir]' "
                          "(or pip install nir)") from err
    return nir


# --------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------


def _unwrap_params(params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept both ``model.init(...)`` output (``{"params": {...}}``) and its ``"params"``."""
    if "params" in params and isinstance(params["params"], Mapping):
        return params["params"]
    return params


def _per_neuron(value: Any, n: int, name: str, where: str) -> np.ndarray:
    """A scalar or ``[n]`` setting as a float64 ``[n]`` array."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full((n,), float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{where}: {name} has shape {arr.shape}; NIR export supports a scalar "
                         f"or one value per neuron/channel ({n},)")
    return arr.copy()


def _scalar_t_max(module, where: str) -> float:
    t_max = np.asarray(module.t_max, dtype=np.float64)
    if t_max.ndim != 0:
        raise ValueError(f"{where}: t_max must be a scalar for NIR export, got shape "
                         f"{t_max.shape}")
    return float(t_max)


def _cuba_lif(module, shape: tuple[int, ...], n: int, expand, where: str):
    """The ``CubaLIF`` node of a LIF layer: ``n`` neurons (or channels), node shape ``shape``.

    ``expand`` turns a per-neuron/per-channel ``[n]`` array into an array of ``shape``.
    """
    nir = _nir()
    tau_syn = _per_neuron(module.tau_syn, n, "tau_syn", where)
    theta = _per_neuron(module.theta, n, "theta", where)
    delta = theta if module.delta_theta is None else _per_neuron(module.delta_theta, n,
                                                                  "delta_theta", where)
    tau_mem = 2.0 * tau_syn
    # Derivation (see the module docstring and docs/nir.md). With S = sum_k W_k delta(t-t_k):
    #   NIR:    tau_syn dI/dt = -I + w_in S  =>  I jumps by w_in W / tau_syn, decays with tau_syn
    #           tau_mem dv/dt = -v + r I     =>  dv/dt = -v/tau_mem + (r / tau_mem) I
    #   snnjax: I jumps by w,                    decays with tau_syn
    #           du/dt = -u/tau_mem + I
    # v == u for all inputs iff W = w and r * w_in = tau_mem * tau_syn. We take
    # w_in = tau_syn (then NIR's I equals snnjax's I) and r = tau_mem.
    w_in = tau_syn
    r = tau_mem
    # Subtractive reset at an exact crossing (u = theta) lands at theta - delta_theta.
    v_reset = theta - delta
    metadata = {
        "snnjax_module": type(module).__name__,
        "reset": "subtractive",
        "delta_theta": expand(delta),
        "max_spikes": int(module.max_spikes),
        "t_max": _scalar_t_max(module, where),
        "time_unit": "s",
    }
    if module.max_input_events is not None:
        metadata["max_input_events"] = int(module.max_input_events)
    return nir.CubaLIF(tau_syn=expand(tau_syn), tau_mem=expand(tau_mem), r=expand(r),
                       v_leak=np.zeros(shape), v_threshold=expand(theta),
                       v_reset=expand(v_reset), w_in=expand(w_in), metadata=metadata)


def _layer_kernel(params: Mapping[str, Any], i: int, where: str) -> np.ndarray:
    try:
        return np.asarray(params[f"layers_{i}"]["kernel"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"{where}: params has no 'layers_{i}' -> 'kernel' entry "
                         f"(pass the output of model.init)") from err


def export_nir(model: SpikingNetwork, params: Mapping[str, Any], *,
               input_shape: Sequence[int] | None = None) -> nir_types.NIRGraph:
    """Export a :class:`snnjax.nn.SpikingNetwork` and its parameters to a NIR graph.

    Args:
      model: the network; its layers must be :class:`~snnjax.nn.LIFDense`,
        :class:`~snnjax.nn.LIFConv`, :class:`~snnjax.nn.SpikeUnionPool` or
        :class:`~snnjax.nn.Flatten`.
      params: ``model.init(...)`` output (``{"params": {"layers_<i>": {"kernel": ...}}}``)
        or its ``"params"`` entry.
      input_shape: per-sample input shape in snnjax layout without the spike axis,
        ``(n_in,)`` or ``(H, W, C)``; defaults to ``model.input_shape`` and, for a network
        starting with a dense layer, to ``(kernel.shape[0],)``.

    Returns:
      A type-checked ``nir.NIRGraph``: nodes ``input``, per layer ``i``
      ``layers_<i>_linear``/``layers_<i>_conv`` + ``layers_<i>_lif``, ``layers_<i>_pool``,
      ``layers_<i>_flatten``, and ``output``, chained by edges in that order.

    Raises:
      ValueError: for an unsupported layer type or setting, a missing kernel, or an
        unknown input shape.
    """
    nir = _nir()
    p = _unwrap_params(params)
    layers = list(model.layers)
    if not layers:
        raise ValueError("export_nir: the network has no layers")
    if input_shape is None:
        input_shape = model.input_shape
    if input_shape is None:
        if isinstance(layers[0], LIFDense):
            input_shape = (_layer_kernel(p, 0, "layers_0 (LIFDense)").shape[0],)
        else:
            raise ValueError("export_nir: the input shape is unknown; build the network with "
                             "input_shape=(H, W, C) or pass export_nir(..., input_shape=...)")
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) == 1:
        shape = input_shape  # NIR shape of the signal flowing along the chain
    elif len(input_shape) == 3:
        h, w, c = input_shape
        shape = (c, h, w)
    else:
        raise ValueError(f"export_nir: input_shape must be (n_in,) or (H, W, C), got "
                         f"{input_shape}")

    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(shape),
                                                metadata={"snnjax_layout": _layout(shape)})}
    chain = ["input"]
    flattened_from: tuple[int, int, int] | None = None  # (C, H, W) of a preceding Flatten

    def add(name, node):
        nodes[name] = node
        chain.append(name)

    for i, layer in enumerate(layers):
        where = f"layers_{i} ({type(layer).__name__})"
        if isinstance(layer, LIFDense):
            kernel = _layer_kernel(p, i, where)
            if len(shape) != 1:
                raise ValueError(f"{where}: a dense layer on a {len(shape)}-d input {shape} "
                                 f"applies per position; insert a Flatten before it")
            if kernel.ndim != 2 or kernel.shape != (shape[0], layer.features):
                raise ValueError(f"{where}: kernel shape {kernel.shape} does not match "
                                 f"({shape[0]}, {layer.features})")
            weight = kernel.T  # [n_out, n_in], NIR's y = W x
            if flattened_from is not None:
                # snnjax's rows are in (h, w, c) order, NIR's flattened input in (c, h, w).
                c, h, w = flattened_from
                weight = (kernel.reshape(h, w, c, layer.features)
                          .transpose(3, 2, 0, 1).reshape(layer.features, c * h * w))
            flattened_from = None
            n = layer.features
            shape = (n,)
            add(f"layers_{i}_linear", nir.Linear(weight=np.ascontiguousarray(weight)))
            add(f"layers_{i}_lif", _cuba_lif(layer, shape, n, lambda a: a.copy(), where))
        elif isinstance(layer, LIFConv):
            kernel = _layer_kernel(p, i, where)
            if len(shape) != 3:
                raise ValueError(f"{where}: a conv layer needs an (H, W, C) input, got the "
                                 f"flat shape {shape}")
            c_in, h, w = shape
            kh, kw = ((layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int)
                      else tuple(layer.kernel_size))
            if kernel.shape != (kh, kw, c_in, layer.features):
                raise ValueError(f"{where}: kernel shape {kernel.shape} does not match "
                                 f"({kh}, {kw}, {c_in}, {layer.features})")
            n = layer.features
            shape = (n, h - kh + 1, w - kw + 1)
            weight = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # [C_out, C_in, kh, kw]
            add(f"layers_{i}_conv", nir.Conv2d(
                input_shape=(h, w), weight=weight, stride=(1, 1), padding=(0, 0),
                dilation=(1, 1), groups=1, bias=np.zeros((n,), weight.dtype)))
            add(f"layers_{i}_lif", _cuba_lif(
                layer, shape, n, lambda a, s=shape: np.broadcast_to(a[:, None, None], s).copy(),
                where))
            flattened_from = None
        elif isinstance(layer, SpikeUnionPool):
            if len(shape) != 3:
                raise ValueError(f"{where}: pooling needs an (H, W, C) input, got {shape}")
            wh, ww = ((layer.window,) * 2 if isinstance(layer.window, int)
                      else tuple(int(v) for v in layer.window))
            c, h, w = shape
            if h % wh or w % ww:
                raise ValueError(f"{where}: feature map {(h, w)} is not divisible by the "
                                 f"window {(wh, ww)}")
            shape = (c, h // wh, w // ww)
            meta = {"snnjax_module": "SpikeUnionPool", "semantics": "spike union (sum of "
                    "event trains, coincident events counted with multiplicity)"}
            if layer.max_spikes is not None:
                meta["max_spikes"] = int(layer.max_spikes)
            add(f"layers_{i}_pool", nir.SumPool2d(
                kernel_size=np.array([wh, ww]), stride=np.array([wh, ww]),
                padding=np.array([0, 0]), metadata=meta))
        elif isinstance(layer, Flatten):
            node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1,
                               metadata={"snnjax_module": "Flatten"})
            if len(shape) == 3:
                flattened_from = shape
            shape = (int(np.prod(shape)),)
            add(f"layers_{i}_flatten", node)
        else:
            raise ValueError(f"export_nir: {where} is not supported; NIR export handles "
                             f"LIFDense, LIFConv, SpikeUnionPool and Flatten")

    nodes["output"] = nir.Output(output_type=np.array(shape),
                                 metadata={"snnjax_layout": _layout(shape)})
    chain.append("output")
    edges = list(zip(chain[:-1], chain[1:], strict=True))
    metadata = {
        "producer": "snnjax",
        "snnjax_version": snnjax.__version__,
        "mapping": MAPPING_VERSION,
        "time_unit": "s",
        "semantics": "exact event-based simulation of the ODEs; spikes are Dirac events; "
                     "see docs/nir.md of snnjax",
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=True)


def _layout(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return "NIR (C, H, W) = snnjax [H, W, C] transposed"
    return "NIR (n,) = snnjax [n]"


def save_nir(model: SpikingNetwork, params: Mapping[str, Any], path: str | os.PathLike, *,
             input_shape: Sequence[int] | None = None) -> nir_types.NIRGraph:
    """:func:`export_nir` and write the graph to ``path`` (HDF5 ``.nir`` file, ``nir.write``).

    Returns:
      The exported graph.
    """
    graph = export_nir(model, params, input_shape=input_shape)
    _nir().write(path, graph)
    return graph


# --------------------------------------------------------------------------------------
# import
# --------------------------------------------------------------------------------------


def _meta_value(node, key: str, default: Any = None) -> Any:
    meta = getattr(node, "metadata", None) or {}
    if not isinstance(meta, Mapping) or key not in meta:
        return default
    value = meta[key]
    if isinstance(value, bytes):
        value = value.decode("utf8")
    return value


def _chain(graph) -> list[str]:
    """Node names of a linear chain from the single Input to the single Output."""
    nir = _nir()
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"import_nir: snnjax needs exactly one Input and one Output node, got "
                         f"inputs {inputs} and outputs {outputs}")
    succ: dict[str, str] = {}
    pred: dict[str, str] = {}
    for a, b in graph.edges:
        a, b = str(a), str(b)
        if a in succ:
            raise ValueError(f"import_nir: node '{a}' has several successors ('{succ[a]}', "
                             f"'{b}'); snnjax networks are feed-forward chains")
        if b in pred:
            raise ValueError(f"import_nir: node '{b}' has several predecessors ('{pred[b]}', "
                             f"'{a}'); snnjax networks are feed-forward chains")
        succ[a], pred[b] = b, a
    chain = [inputs[0]]
    while chain[-1] != outputs[0]:
        if chain[-1] not in succ:
            raise ValueError(f"import_nir: the chain from '{inputs[0]}' stops at '{chain[-1]}' "
                             f"before reaching the Output node '{outputs[0]}'")
        nxt = succ[chain[-1]]
        if nxt in chain:
            raise ValueError(f"import_nir: the graph has a cycle through '{nxt}'")
        chain.append(nxt)
    stray = sorted(set(graph.nodes) - set(chain))
    if stray:
        raise ValueError(f"import_nir: nodes {stray} are not on the Input -> Output chain")
    return chain


def _arr(node, field: str) -> np.ndarray:
    return np.asarray(getattr(node, field), dtype=np.float64)


def _uniform(arr: np.ndarray) -> float | np.ndarray:
    """A Python float when every entry is equal (the common case), else the array."""
    flat = arr.reshape(-1)
    if np.all(flat == flat[0]):
        return float(flat[0])
    return flat.copy()


def _neuron_settings(name: str, node, expected_shape: tuple[int, ...]) -> dict[str, Any]:
    """Check a ``CubaLIF`` node against snnjax's neuron; return per-neuron/channel settings.

    For a conv layer (3-d shape) the values must be equal across positions and are reduced
    to one per channel. Returns ``tau_syn, theta, delta_theta, scale`` (``scale`` multiplies
    the incoming weights: ``r * w_in / (tau_mem * tau_syn)``) as ``[n]`` arrays.
    """
    where = f"node '{name}' (CubaLIF)"
    fields = {f: _arr(node, f) for f in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                                         "v_reset", "w_in")}
    for f, a in fields.items():
        if a.shape != expected_shape:
            raise ValueError(f"{where}: {f} has shape {a.shape}, expected {expected_shape} "
                             f"(the output of the preceding synapse node)")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: {f} has non-finite values")
    tau_syn, tau_mem = fields["tau_syn"], fields["tau_mem"]
    theta, v_reset, v_leak = fields["v_threshold"], fields["v_reset"], fields["v_leak"]
    if np.any(tau_syn <= 0):
        raise ValueError(f"{where}: tau_syn must be > 0, got min {tau_syn.min()}")
    if not np.allclose(tau_mem, 2.0 * tau_syn, rtol=_RTOL, atol=0.0):
        bad = np.argmax(np.abs(tau_mem - 2 * tau_syn) / tau_syn)
        raise ValueError(f"{where}: tau_mem != 2 * tau_syn is not representable (snnjax's "
                         f"closed-form spike times need tau_mem = 2 tau_syn); e.g. tau_mem="
                         f"{tau_mem.flat[bad]!r}, tau_syn={tau_syn.flat[bad]!r}")
    if np.any(theta <= 0):
        raise ValueError(f"{where}: v_threshold must be > 0 (snnjax's rest potential is 0), "
                         f"got min {theta.min()}")
    if np.any(np.abs(v_leak) > _RTOL * theta):
        raise ValueError(f"{where}: v_leak != 0 is not representable (snnjax's membrane rests "
                         f"at 0); got max |v_leak| = {np.abs(v_leak).max()!r}")
    delta = theta - v_reset
    if np.any(delta <= 0):
        raise ValueError(f"{where}: v_reset >= v_threshold is not representable (the reset "
                         f"maps to a subtraction delta_theta = v_threshold - v_reset, which "
                         f"must be > 0)")
    meta_reset = _meta_value(node, "reset")
    if meta_reset is not None and meta_reset != "subtractive":
        raise ValueError(f"{where}: metadata reset={meta_reset!r} is not representable; snnjax "
                         f"resets by subtraction (v_reset = v_threshold - delta_theta)")
    meta_delta = _meta_value(node, "delta_theta")
    if meta_delta is not None:
        meta_delta = np.broadcast_to(np.asarray(meta_delta, np.float64), expected_shape)
        if not np.allclose(meta_delta, delta, rtol=_RTOL, atol=_RTOL * float(theta.max())):
            raise ValueError(f"{where}: metadata delta_theta disagrees with v_threshold - "
                             f"v_reset")
        delta = meta_delta  # the exact value the producer stored
    # r * w_in = s * tau_mem * tau_syn scales the effective weight by s (see export).
    scale = fields["r"] * fields["w_in"] / (tau_mem * tau_syn)
    out = {"tau_syn": tau_syn, "theta": theta, "delta_theta": delta, "scale": scale}
    if len(expected_shape) == 3:
        for key, a in out.items():
            if not np.all(a == a[:, :1, :1]):
                label = "r * w_in" if key == "scale" else key
                raise ValueError(f"{where}: {label} varies across positions of channel maps; "
                                 f"snnjax conv layers share neuron parameters per channel")
        out = {key: a[:, 0, 0] for key, a in out.items()}
    return out


def _per_layer_option(value: Any, n: int, name: str) -> list[Any]:
    if value is _FROM_METADATA:
        return [_FROM_METADATA] * n
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f"import_nir: {name} needs one entry per spiking layer ({n}), got "
                         f"{len(value)}")
    return value


def import_nir(graph: nir_types.NIRGraph | str | os.PathLike, *,
               max_spikes: int | Sequence[int] | None = None,
               t_max: float | Sequence[float] | None = None,
               max_input_events: Any = _FROM_METADATA,
               pool_max_spikes: Any = _FROM_METADATA,
               param_dtype: Any = None) -> tuple[SpikingNetwork, dict[str, Any]]:
    """Build a :class:`snnjax.nn.SpikingNetwork` and its parameters from a NIR graph.

    Accepted graphs are chains ``Input -> ... -> Output`` of ``Linear`` (or ``Affine`` with a
    zero bias) or ``Conv2d`` (zero bias, stride 1, no padding, dilation 1, groups 1), each
    followed by a ``CubaLIF`` with ``tau_mem = 2 tau_syn`` and ``v_leak = 0``;
    ``SumPool2d`` with ``stride = kernel_size`` and no padding (spike-union pooling);
    ``Flatten`` over all dims. ``CubaLIF.v_reset`` becomes the subtractive reset
    ``delta_theta = v_threshold - v_reset``; ``r * w_in / (tau_mem tau_syn)`` (1 for graphs
    written by :func:`export_nir`) is folded into the incoming weights. Anything else raises
    ``ValueError`` naming the node and field.

    Args:
      graph: a ``nir.NIRGraph`` or the path of a ``.nir`` file.
      max_spikes: spike buffer per spiking layer (int for all, or one per layer); ``None``
        takes it from the node metadata written by :func:`export_nir`.
      t_max: simulation end (s) per spiking layer; ``None`` takes it from the metadata.
      max_input_events: int/None for all layers or one per layer; default: the metadata,
        else ``None``.
      pool_max_spikes: truncation of the pooled trains (int/None, all pools); default: the
        metadata, else ``None`` (keep every spike).
      param_dtype: dtype of the kernels; default the weights' dtype (float64 only when
        ``jax_enable_x64`` is on, float32 otherwise).

    Returns:
      ``(model, variables)`` with ``variables = {"params": {"layers_<i>": {"kernel": ...}}}``,
      ready for ``model.apply(variables, input_times)``.

    Raises:
      ValueError: for a graph snnjax cannot represent, with the node and field named, or a
        static setting (``max_spikes``, ``t_max``) that is neither given nor in the metadata.
    """
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"import_nir expects a nir.NIRGraph or a path, got {type(graph)}")
    chain = _chain(graph)
    in_node = graph.nodes[chain[0]]
    shape = tuple(int(s) for s in np.asarray(in_node.input_type["input"]).reshape(-1))
    if len(shape) == 1:
        snn_input_shape: tuple[int, ...] = shape
    elif len(shape) == 3:
        snn_input_shape = (shape[1], shape[2], shape[0])
    else:
        raise ValueError(f"import_nir: Input node '{chain[0]}' has shape {shape}; snnjax takes "
                         f"(n,) or (C, H, W) inputs")

    n_spiking = sum(isinstance(graph.nodes[k], nir.CubaLIF) for k in chain)
    opt_spikes = _per_layer_option(_FROM_METADATA if max_spikes is None else max_spikes,
                                   n_spiking, "max_spikes")
    opt_t_max = _per_layer_option(_FROM_METADATA if t_max is None else t_max, n_spiking,
                                  "t_max")
    opt_events = _per_layer_option(max_input_events, n_spiking, "max_input_events")

    modules: list[Any] = []
    kernels: dict[str, Any] = {}
    pending: tuple[str, str, np.ndarray] | None = None  # (node name, kind, snnjax kernel)
    flattened_from: tuple[int, int, int] | None = None
    spiking_index = 0
    weight_dtypes = []

    for name in chain[1:]:
        node = graph.nodes[name]
        kind = type(node).__name__
        where = f"node '{name}' ({kind})"
        if pending is not None and not isinstance(node, nir.CubaLIF):
            raise ValueError(f"import_nir: node '{pending[0]}' ({pending[1]}) must be followed "
                             f"by a CubaLIF node, got {where}; snnjax layers are synapse + "
                             f"neuron pairs")
        if isinstance(node, (nir.Linear, nir.Affine)):
            weight = np.asarray(node.weight)
            if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
                raise ValueError(f"{where}: a nonzero bias is not representable (snnjax "
                                 f"neurons have no bias current); max |bias| = "
                                 f"{np.abs(np.asarray(node.bias)).max()!r}")
            if len(shape) != 1:
                raise ValueError(f"{where}: input of shape {shape}; insert a Flatten before a "
                                 f"Linear layer")
            if weight.ndim != 2 or weight.shape[1] != shape[0]:
                raise ValueError(f"{where}: weight shape {weight.shape} does not match the "
                                 f"input size {shape[0]} (NIR weights are [out, in])")
            n_out = weight.shape[0]
            if flattened_from is not None:
                c, h, w = flattened_from
                kernel = weight.reshape(n_out, c, h, w).transpose(2, 3, 1, 0).reshape(-1, n_out)
            else:
                kernel = weight.T
            flattened_from = None
            pending = (name, "dense", np.ascontiguousarray(kernel))
            weight_dtypes.append(weight.dtype)
            shape = (n_out,)
        elif isinstance(node, nir.Conv2d):
            weight = np.asarray(node.weight)
            if len(shape) != 3:
                raise ValueError(f"{where}: needs a (C, H, W) input, got {shape}")
            if weight.ndim != 4 or weight.shape[1] != shape[0]:
                raise ValueError(f"{where}: weight shape {weight.shape} does not match "
                                 f"{shape[0]} input channels (NIR weights are "
                                 f"[C_out, C_in, kh, kw])")
            for field, ok in (("stride", 1), ("dilation", 1)):
                if np.any(np.asarray(getattr(node, field)) != ok):
                    raise ValueError(f"{where}: {field}={getattr(node, field)!r} is not "
                                     f"representable (snnjax convolutions have {field} 1)")
            padding = node.padding
            if isinstance(padding, bytes):
                padding = padding.decode("utf8")
            kh, kw = weight.shape[2:]
            if isinstance(padding, str):
                pad_ok = padding == "valid" or (padding == "same" and kh == kw == 1)
            else:
                pad_ok = bool(np.all(np.asarray(padding) == 0))
            if not pad_ok:
                raise ValueError(f"{where}: padding={padding!r} is not representable (snnjax "
                                 f"convolutions are 'valid')")
            if int(np.asarray(node.groups)) != 1:
                raise ValueError(f"{where}: groups={node.groups!r} is not representable "
                                 f"(snnjax convolutions have groups 1)")
            if node.bias is not None and np.any(np.asarray(node.bias) != 0):
                raise ValueError(f"{where}: a nonzero bias is not representable (snnjax "
                                 f"neurons have no bias current)")
            c, h, w = shape
            if kh > h or kw > w:
                raise ValueError(f"{where}: kernel {(kh, kw)} larger than the input {(h, w)}")
            pending = (name, "conv", np.ascontiguousarray(weight.transpose(2, 3, 1, 0)))
            weight_dtypes.append(weight.dtype)
            shape = (weight.shape[0], h - kh + 1, w - kw + 1)
        elif isinstance(node, nir.CubaLIF):
            if pending is None:
                raise ValueError(f"{where}: must follow a Linear, Affine or Conv2d node (snnjax "
                                 f"neurons receive weighted spikes)")
            syn_name, syn_kind, kernel = pending
            pending = None
            s = _neuron_settings(name, node, shape)
            scale = s.pop("scale")
            if not np.all(np.isfinite(scale)):
                raise ValueError(f"{where}: r * w_in / (tau_mem * tau_syn) is not finite")
            if not np.allclose(scale, 1.0, rtol=_RTOL, atol=0.0):
                kernel = kernel * scale.astype(kernel.dtype)  # last axis = output neuron
            i = spiking_index
            spiking_index += 1
            k = opt_spikes[i]
            if k is _FROM_METADATA:
                k = _meta_value(node, "max_spikes")
                if k is None:
                    raise ValueError(f"{where}: the spike buffer is not in the node metadata "
                                     f"(not written by snnjax); pass import_nir(..., "
                                     f"max_spikes=...)")
            tm = opt_t_max[i]
            if tm is _FROM_METADATA:
                tm = _meta_value(node, "t_max")
                if tm is None:
                    raise ValueError(f"{where}: t_max is not in the node metadata (not written "
                                     f"by snnjax); pass import_nir(..., t_max=...)")
            ev = opt_events[i]
            if ev is _FROM_METADATA:
                ev = _meta_value(node, "max_input_events")
            theta = _uniform(s["theta"])
            delta = _uniform(s["delta_theta"])
            if np.array_equal(np.asarray(delta), np.asarray(theta)):
                delta = None  # snnjax's default: reset to rest
            common = dict(features=int(kernel.shape[-1]), max_spikes=int(k),
                          tau_syn=_uniform(s["tau_syn"]), theta=theta, delta_theta=delta,
                          t_max=float(tm), max_input_events=None if ev is None else int(ev))
            layer_name = f"layers_{len(modules)}"
            if syn_kind == "dense":
                modules.append(LIFDense(**common))
            else:
                modules.append(LIFConv(kernel_size=tuple(int(v) for v in kernel.shape[:2]),
                                       **common))
            kernels[layer_name] = kernel
        elif isinstance(node, nir.SumPool2d):
            if len(shape) != 3:
                raise ValueError(f"{where}: needs a (C, H, W) input, got {shape}")
            ksize = np.broadcast_to(np.asarray(node.kernel_size).reshape(-1), (2,))
            stride = np.broadcast_to(np.asarray(node.stride).reshape(-1), (2,))
            if not np.array_equal(ksize, stride):
                raise ValueError(f"{where}: stride {stride.tolist()} != kernel_size "
                                 f"{ksize.tolist()} is not representable (snnjax pools "
                                 f"non-overlapping windows)")
            if np.any(np.asarray(node.padding) != 0):
                raise ValueError(f"{where}: padding={node.padding!r} is not representable")
            c, h, w = shape
            wh, ww = int(ksize[0]), int(ksize[1])
            if h % wh or w % ww:
                raise ValueError(f"{where}: input {(h, w)} is not divisible by the window "
                                 f"{(wh, ww)} (snnjax does not crop)")
            pk = pool_max_spikes
            if pk is _FROM_METADATA:
                pk = _meta_value(node, "max_spikes")
            modules.append(SpikeUnionPool(window=(wh, ww) if wh != ww else wh,
                                          max_spikes=None if pk is None else int(pk)))
            shape = (c, h // wh, w // ww)
        elif isinstance(node, nir.Flatten):
            ndim = len(shape)
            start = int(node.start_dim) % ndim
            end = int(node.end_dim) % ndim
            if start != 0 or end != ndim - 1:
                raise ValueError(f"{where}: start_dim={node.start_dim}, end_dim={node.end_dim} "
                                 f"on the input type {shape} does not flatten every dimension "
                                 f"(NIR types have no batch dimension: use start_dim=0)")
            if ndim == 3:
                flattened_from = shape
            modules.append(Flatten())
            shape = (int(np.prod(shape)),)
        elif isinstance(node, nir.Output):
            out_shape = tuple(int(v) for v in np.asarray(node.output_type["output"]).reshape(-1))
            if out_shape != shape:
                raise ValueError(f"{where}: shape {out_shape} does not match the signal "
                                 f"{shape} reaching it")
        elif isinstance(node, nir.AvgPool2d):
            raise ValueError(f"{where}: average pooling scales spikes by 1/(kh*kw) and is not "
                             f"representable; snnjax's spike-union pooling is SumPool2d")
        else:
            raise ValueError(f"{where}: node type {kind} is not representable in snnjax "
                             f"(supported: Input, Linear, Affine with zero bias, Conv2d, "
                             f"CubaLIF, SumPool2d, Flatten, Output)")

    if not modules:
        raise ValueError("import_nir: the graph has no layers")
    if param_dtype is None:
        wide = any(np.dtype(d) == np.float64 for d in weight_dtypes)
        param_dtype = jnp.float64 if (wide and jax.config.jax_enable_x64) else jnp.float32
    modules = [m.clone(param_dtype=param_dtype) if isinstance(m, (LIFDense, LIFConv)) else m
               for m in modules]
    model = SpikingNetwork(layers=tuple(modules), input_shape=snn_input_shape)
    params = {k: {"kernel": jnp.asarray(v, dtype=param_dtype)} for k, v in kernels.items()}
    return model, {"params": params}


def load_nir(path: str | os.PathLike, **kwargs: Any) -> tuple[SpikingNetwork, dict[str, Any]]:
    """Read a ``.nir`` file (``nir.read``) and :func:`import_nir` it (same keyword args)."""
    return import_nir(_nir().read(path), **kwargs)
