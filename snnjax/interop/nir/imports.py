"""NIR import: a NIR graph as a :class:`snnjax.nn.SpikingNetwork` and its parameters.

:func:`import_nir` walks the chain ``Input -> ... -> Output``; one handler per NIR node
type (:data:`_IMPORTERS`) checks the node against what snnjax can represent and appends
its layer. The mapping is derived in :mod:`snnjax.interop.nir` and ``docs/nir.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from snnjax.interop.nir._common import RTOL, meta_value, nir_module
from snnjax.nn import Flatten, LIFConv, LIFDense, SpikeUnionPool, SpikingNetwork

if TYPE_CHECKING:  # pragma: no cover
    import nir as nir_types

__all__ = ["import_nir", "load_nir"]

_FROM_METADATA: Any = object()  # sentinel: "take the value from the node metadata"


def _chain(graph) -> list[str]:
    """Node names of a linear chain from the single Input to the single Output."""
    nir = nir_module()
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(
            f"import_nir: snnjax needs exactly one Input and one Output node, got "
            f"inputs {inputs} and outputs {outputs}"
        )
    succ: dict[str, str] = {}
    pred: dict[str, str] = {}
    for a, b in graph.edges:
        a, b = str(a), str(b)
        if a in succ:
            raise ValueError(
                f"import_nir: node '{a}' has several successors ('{succ[a]}', "
                f"'{b}'); snnjax networks are feed-forward chains"
            )
        if b in pred:
            raise ValueError(
                f"import_nir: node '{b}' has several predecessors ('{pred[b]}', "
                f"'{a}'); snnjax networks are feed-forward chains"
            )
        succ[a], pred[b] = b, a
    chain = [inputs[0]]
    while chain[-1] != outputs[0]:
        if chain[-1] not in succ:
            raise ValueError(
                f"import_nir: the chain from '{inputs[0]}' stops at '{chain[-1]}' "
                f"before reaching the Output node '{outputs[0]}'"
            )
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


def _cuba_fields(node, where: str, expected_shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The float64 fields of a ``CubaLIF`` node, checked: shapes, finite, ``tau_syn > 0``,
    ``tau_mem = 2 tau_syn``, ``v_threshold > 0``, ``v_leak = 0``."""
    fields = {
        f: _arr(node, f)
        for f in ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")
    }
    for f, a in fields.items():
        if a.shape != expected_shape:
            raise ValueError(
                f"{where}: {f} has shape {a.shape}, expected {expected_shape} "
                f"(the output of the preceding synapse node)"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: {f} has non-finite values")
    tau_syn, tau_mem = fields["tau_syn"], fields["tau_mem"]
    theta, v_leak = fields["v_threshold"], fields["v_leak"]
    if np.any(tau_syn <= 0):
        raise ValueError(f"{where}: tau_syn must be > 0, got min {tau_syn.min()}")
    if not np.allclose(tau_mem, 2.0 * tau_syn, rtol=RTOL, atol=0.0):
        bad = np.argmax(np.abs(tau_mem - 2 * tau_syn) / tau_syn)
        raise ValueError(
            f"{where}: tau_mem != 2 * tau_syn is not representable (snnjax's "
            f"closed-form spike times need tau_mem = 2 tau_syn); e.g. tau_mem="
            f"{tau_mem.flat[bad]!r}, tau_syn={tau_syn.flat[bad]!r}"
        )
    if np.any(theta <= 0):
        raise ValueError(
            f"{where}: v_threshold must be > 0 (snnjax's rest potential is 0), "
            f"got min {theta.min()}"
        )
    if np.any(np.abs(v_leak) > RTOL * theta):
        raise ValueError(
            f"{where}: v_leak != 0 is not representable (snnjax's membrane rests "
            f"at 0); got max |v_leak| = {np.abs(v_leak).max()!r}"
        )
    return fields


def _subtractive_reset(
    node, where: str, theta: np.ndarray, v_reset: np.ndarray, expected_shape: tuple[int, ...]
) -> np.ndarray:
    """``delta_theta = v_threshold - v_reset`` (> 0), or the metadata's exact value when it
    agrees; a metadata reset other than ``"subtractive"`` is an error."""
    delta = theta - v_reset
    if np.any(delta <= 0):
        raise ValueError(
            f"{where}: v_reset >= v_threshold is not representable (the reset "
            f"maps to a subtraction delta_theta = v_threshold - v_reset, which "
            f"must be > 0)"
        )
    meta_reset = meta_value(node, "reset")
    if meta_reset is not None and meta_reset != "subtractive":
        raise ValueError(
            f"{where}: metadata reset={meta_reset!r} is not representable; snnjax "
            f"resets by subtraction (v_reset = v_threshold - delta_theta)"
        )
    meta_delta = meta_value(node, "delta_theta")
    if meta_delta is not None:
        meta_delta = np.broadcast_to(np.asarray(meta_delta, np.float64), expected_shape)
        if not np.allclose(meta_delta, delta, rtol=RTOL, atol=RTOL * float(theta.max())):
            raise ValueError(f"{where}: metadata delta_theta disagrees with v_threshold - v_reset")
        delta = meta_delta  # the exact value the producer stored
    return delta


def _neuron_settings(name: str, node, expected_shape: tuple[int, ...]) -> dict[str, Any]:
    """Check a ``CubaLIF`` node against snnjax's neuron; return per-neuron/channel settings.

    For a conv layer (3-d shape) the values must be equal across positions and are reduced
    to one per channel. Returns ``tau_syn, theta, delta_theta, scale`` (``scale`` multiplies
    the incoming weights: ``r * w_in / (tau_mem * tau_syn)``) as ``[n]`` arrays.
    """
    where = f"node '{name}' (CubaLIF)"
    fields = _cuba_fields(node, where, expected_shape)
    tau_syn, tau_mem, theta = fields["tau_syn"], fields["tau_mem"], fields["v_threshold"]
    delta = _subtractive_reset(node, where, theta, fields["v_reset"], expected_shape)
    # r * w_in = s * tau_mem * tau_syn scales the effective weight by s (see export).
    scale = fields["r"] * fields["w_in"] / (tau_mem * tau_syn)
    out = {"tau_syn": tau_syn, "theta": theta, "delta_theta": delta, "scale": scale}
    if len(expected_shape) == 3:
        for key, a in out.items():
            if not np.all(a == a[:, :1, :1]):
                label = "r * w_in" if key == "scale" else key
                raise ValueError(
                    f"{where}: {label} varies across positions of channel maps; "
                    f"snnjax conv layers share neuron parameters per channel"
                )
        out = {key: a[:, 0, 0] for key, a in out.items()}
    return out


def _per_layer_option(value: Any, n: int, name: str) -> list[Any]:
    if value is _FROM_METADATA:
        return [_FROM_METADATA] * n
    if value is None or isinstance(value, (int, float, np.integer, np.floating)):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(
            f"import_nir: {name} needs one entry per spiking layer ({n}), got {len(value)}"
        )
    return value


@dataclasses.dataclass
class _Build:
    """The network under construction while walking the chain.

    Attributes:
      shape: NIR shape of the signal reaching the current node, ``(n,)`` or ``(C, H, W)``.
      max_spikes, t_max, max_input_events: one option per spiking layer (a value or
        ``_FROM_METADATA``), see :func:`import_nir`.
      pool_max_spikes: the pools' truncation option (a value or ``_FROM_METADATA``).
      pending: ``(node name, "dense" | "conv", snnjax kernel)`` of a synapse node waiting
        for its ``CubaLIF``.
      flattened_from: ``(C, H, W)`` of a ``Flatten`` just before, else ``None``.
      spiking_index: spiking layers built so far.
      modules: the snnjax layers so far; kernels: ``"layers_<i>"`` -> kernel.
      weight_dtypes: dtypes of the weights read (for the default ``param_dtype``).
    """

    shape: tuple[int, ...]
    max_spikes: list[Any]
    t_max: list[Any]
    max_input_events: list[Any]
    pool_max_spikes: Any
    pending: tuple[str, str, np.ndarray] | None = None
    flattened_from: tuple[int, int, int] | None = None
    spiking_index: int = 0
    modules: list[Any] = dataclasses.field(default_factory=list)
    kernels: dict[str, Any] = dataclasses.field(default_factory=dict)
    weight_dtypes: list[Any] = dataclasses.field(default_factory=list)


# ------------------------------------------------------------- one handler per node type


def _import_linear(name: str, node, where: str, b: _Build) -> None:
    """``Linear`` or ``Affine`` (zero bias): the synapse of a dense layer."""
    nir = nir_module()
    weight = np.asarray(node.weight)
    if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
        raise ValueError(
            f"{where}: a nonzero bias is not representable (snnjax "
            f"neurons have no bias current); max |bias| = "
            f"{np.abs(np.asarray(node.bias)).max()!r}"
        )
    shape = b.shape
    if len(shape) != 1:
        raise ValueError(f"{where}: input of shape {shape}; insert a Flatten before a Linear layer")
    if weight.ndim != 2 or weight.shape[1] != shape[0]:
        raise ValueError(
            f"{where}: weight shape {weight.shape} does not match the "
            f"input size {shape[0]} (NIR weights are [out, in])"
        )
    n_out = weight.shape[0]
    if b.flattened_from is not None:
        c, h, w = b.flattened_from
        kernel = weight.reshape(n_out, c, h, w).transpose(2, 3, 1, 0).reshape(-1, n_out)
    else:
        kernel = weight.T
    b.flattened_from = None
    b.pending = (name, "dense", np.ascontiguousarray(kernel))
    b.weight_dtypes.append(weight.dtype)
    b.shape = (n_out,)


def _check_conv_settings(node, where: str, kh: int, kw: int) -> None:
    """Stride, dilation, padding, groups and bias of a ``Conv2d`` as snnjax's convolution."""
    for field, ok in (("stride", 1), ("dilation", 1)):
        if np.any(np.asarray(getattr(node, field)) != ok):
            raise ValueError(
                f"{where}: {field}={getattr(node, field)!r} is not "
                f"representable (snnjax convolutions have {field} 1)"
            )
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode("utf8")
    if isinstance(padding, str):
        pad_ok = padding == "valid" or (padding == "same" and kh == kw == 1)
    else:
        pad_ok = bool(np.all(np.asarray(padding) == 0))
    if not pad_ok:
        raise ValueError(
            f"{where}: padding={padding!r} is not representable (snnjax convolutions are 'valid')"
        )
    if int(np.asarray(node.groups)) != 1:
        raise ValueError(
            f"{where}: groups={node.groups!r} is not representable "
            f"(snnjax convolutions have groups 1)"
        )
    if node.bias is not None and np.any(np.asarray(node.bias) != 0):
        raise ValueError(
            f"{where}: a nonzero bias is not representable (snnjax neurons have no bias current)"
        )


def _import_conv(name: str, node, where: str, b: _Build) -> None:
    """``Conv2d`` (zero bias, stride 1, no padding, dilation 1): the synapse of a conv layer."""
    weight = np.asarray(node.weight)
    if len(b.shape) != 3:
        raise ValueError(f"{where}: needs a (C, H, W) input, got {b.shape}")
    if weight.ndim != 4 or weight.shape[1] != b.shape[0]:
        raise ValueError(
            f"{where}: weight shape {weight.shape} does not match "
            f"{b.shape[0]} input channels (NIR weights are "
            f"[C_out, C_in, kh, kw])"
        )
    kh, kw = weight.shape[2:]
    _check_conv_settings(node, where, kh, kw)
    _, h, w = b.shape
    if kh > h or kw > w:
        raise ValueError(f"{where}: kernel {(kh, kw)} larger than the input {(h, w)}")
    b.pending = (name, "conv", np.ascontiguousarray(weight.transpose(2, 3, 1, 0)))
    b.weight_dtypes.append(weight.dtype)
    b.shape = (weight.shape[0], h - kh + 1, w - kw + 1)


def _static_setting(option: Any, node, key: str, where: str, missing: str | None) -> Any:
    """An import option, or (``_FROM_METADATA``) the node metadata's ``key``; ``missing``:
    the error when it is in neither (``None``: the setting may be absent)."""
    if option is not _FROM_METADATA:
        return option
    value = meta_value(node, key)
    if value is None and missing is not None:
        raise ValueError(f"{where}: {missing}")
    return value


def _import_cuba_lif(name: str, node, where: str, b: _Build) -> None:
    """``CubaLIF`` after a synapse node: one snnjax ``LIFDense``/``LIFConv`` layer."""
    if b.pending is None:
        raise ValueError(
            f"{where}: must follow a Linear, Affine or Conv2d node (snnjax "
            f"neurons receive weighted spikes)"
        )
    _, syn_kind, kernel = b.pending
    b.pending = None
    s = _neuron_settings(name, node, b.shape)
    scale = s.pop("scale")
    if not np.all(np.isfinite(scale)):
        raise ValueError(f"{where}: r * w_in / (tau_mem * tau_syn) is not finite")
    if not np.allclose(scale, 1.0, rtol=RTOL, atol=0.0):
        kernel = kernel * scale.astype(kernel.dtype)  # last axis = output neuron
    i = b.spiking_index
    b.spiking_index += 1
    k = _static_setting(
        b.max_spikes[i],
        node,
        "max_spikes",
        where,
        "the spike buffer is not in the node metadata (not written by "
        "snnjax); pass import_nir(..., max_spikes=...)",
    )
    tm = _static_setting(
        b.t_max[i],
        node,
        "t_max",
        where,
        "t_max is not in the node metadata (not written by snnjax); pass "
        "import_nir(..., t_max=...)",
    )
    ev = _static_setting(b.max_input_events[i], node, "max_input_events", where, None)
    theta = _uniform(s["theta"])
    delta = _uniform(s["delta_theta"])
    if np.array_equal(np.asarray(delta), np.asarray(theta)):
        delta = None  # snnjax's default: reset to rest
    common = dict(
        features=int(kernel.shape[-1]),
        max_spikes=int(k),
        tau_syn=_uniform(s["tau_syn"]),
        theta=theta,
        delta_theta=delta,
        t_max=float(tm),
        max_input_events=None if ev is None else int(ev),
    )
    layer_name = f"layers_{len(b.modules)}"
    if syn_kind == "dense":
        b.modules.append(LIFDense(**common))
    else:
        b.modules.append(LIFConv(kernel_size=tuple(int(v) for v in kernel.shape[:2]), **common))
    b.kernels[layer_name] = kernel


def _import_sum_pool(name: str, node, where: str, b: _Build) -> None:
    """``SumPool2d`` with ``stride = kernel_size``, no padding: spike-union pooling."""
    if len(b.shape) != 3:
        raise ValueError(f"{where}: needs a (C, H, W) input, got {b.shape}")
    ksize = np.broadcast_to(np.asarray(node.kernel_size).reshape(-1), (2,))
    stride = np.broadcast_to(np.asarray(node.stride).reshape(-1), (2,))
    if not np.array_equal(ksize, stride):
        raise ValueError(
            f"{where}: stride {stride.tolist()} != kernel_size "
            f"{ksize.tolist()} is not representable (snnjax pools "
            f"non-overlapping windows)"
        )
    if np.any(np.asarray(node.padding) != 0):
        raise ValueError(f"{where}: padding={node.padding!r} is not representable")
    c, h, w = b.shape
    wh, ww = int(ksize[0]), int(ksize[1])
    if h % wh or w % ww:
        raise ValueError(
            f"{where}: input {(h, w)} is not divisible by the window "
            f"{(wh, ww)} (snnjax does not crop)"
        )
    pk = _static_setting(b.pool_max_spikes, node, "max_spikes", where, None)
    b.modules.append(
        SpikeUnionPool(
            window=(wh, ww) if wh != ww else wh, max_spikes=None if pk is None else int(pk)
        )
    )
    b.shape = (c, h // wh, w // ww)


def _import_flatten(name: str, node, where: str, b: _Build) -> None:
    """``Flatten`` over every dim of the NIR type."""
    ndim = len(b.shape)
    start = int(node.start_dim) % ndim
    end = int(node.end_dim) % ndim
    if start != 0 or end != ndim - 1:
        raise ValueError(
            f"{where}: start_dim={node.start_dim}, end_dim={node.end_dim} "
            f"on the input type {b.shape} does not flatten every dimension "
            f"(NIR types have no batch dimension: use start_dim=0)"
        )
    if ndim == 3:
        b.flattened_from = b.shape
    b.modules.append(Flatten())
    b.shape = (int(np.prod(b.shape)),)


def _import_output(name: str, node, where: str, b: _Build) -> None:
    """``Output``: its shape must be the signal reaching it."""
    out_shape = tuple(int(v) for v in np.asarray(node.output_type["output"]).reshape(-1))
    if out_shape != b.shape:
        raise ValueError(
            f"{where}: shape {out_shape} does not match the signal {b.shape} reaching it"
        )


def _reject_avg_pool(name: str, node, where: str, b: _Build) -> None:
    """``AvgPool2d``: not representable (it scales spikes)."""
    raise ValueError(
        f"{where}: average pooling scales spikes by 1/(kh*kw) and is not "
        f"representable; snnjax's spike-union pooling is SumPool2d"
    )


_IMPORTERS: dict[str, Callable[[str, Any, str, _Build], None]] = {
    # NIR node class name -> handler(name, node, "node '<name>' (Type)", build),
    # matched with isinstance in this order
    "Linear": _import_linear,
    "Affine": _import_linear,
    "Conv2d": _import_conv,
    "CubaLIF": _import_cuba_lif,
    "SumPool2d": _import_sum_pool,
    "Flatten": _import_flatten,
    "Output": _import_output,
    "AvgPool2d": _reject_avg_pool,
}


def _importer(nir, node) -> Callable[[str, Any, str, _Build], None] | None:
    return next((h for cls, h in _IMPORTERS.items() if isinstance(node, getattr(nir, cls))), None)


# ------------------------------------------------------------------------- the network


def _snn_input_shape(chain_start: str, in_node) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(NIR shape, snnjax input_shape)`` of the ``Input`` node."""
    shape = tuple(int(s) for s in np.asarray(in_node.input_type["input"]).reshape(-1))
    if len(shape) == 1:
        return shape, shape
    if len(shape) == 3:
        return shape, (shape[1], shape[2], shape[0])
    raise ValueError(
        f"import_nir: Input node '{chain_start}' has shape {shape}; snnjax takes "
        f"(n,) or (C, H, W) inputs"
    )


def _finish(
    b: _Build, snn_input_shape: tuple[int, ...], param_dtype: Any
) -> tuple[SpikingNetwork, dict[str, Any]]:
    """The network and its ``{"params": ...}`` in ``param_dtype`` (default: see import_nir)."""
    if not b.modules:
        raise ValueError("import_nir: the graph has no layers")
    if param_dtype is None:
        wide = any(np.dtype(d) == np.float64 for d in b.weight_dtypes)
        param_dtype = jnp.float64 if (wide and jax.config.jax_enable_x64) else jnp.float32
    modules = [
        m.clone(param_dtype=param_dtype) if isinstance(m, (LIFDense, LIFConv)) else m
        for m in b.modules
    ]
    model = SpikingNetwork(layers=tuple(modules), input_shape=snn_input_shape)
    params = {k: {"kernel": jnp.asarray(v, dtype=param_dtype)} for k, v in b.kernels.items()}
    return model, {"params": params}


def import_nir(
    graph: nir_types.NIRGraph | str | os.PathLike,
    *,
    max_spikes: int | Sequence[int] | None = None,
    t_max: float | Sequence[float] | None = None,
    max_input_events: Any = _FROM_METADATA,
    pool_max_spikes: Any = _FROM_METADATA,
    param_dtype: Any = None,
) -> tuple[SpikingNetwork, dict[str, Any]]:
    """Build a :class:`snnjax.nn.SpikingNetwork` and its parameters from a NIR graph.

    Accepted graphs are chains ``Input -> ... -> Output`` of ``Linear`` (or ``Affine`` with a
    zero bias) or ``Conv2d`` (zero bias, stride 1, no padding, dilation 1, groups 1), each
    followed by a ``CubaLIF`` with ``tau_mem = 2 tau_syn`` and ``v_leak = 0``;
    ``SumPool2d`` with ``stride = kernel_size`` and no padding (spike-union pooling);
    ``Flatten`` over all dims. ``CubaLIF.v_reset`` becomes the subtractive reset
    ``delta_theta = v_threshold - v_reset``; ``r * w_in / (tau_mem tau_syn)`` (1 for graphs
    written by :func:`~snnjax.interop.nir.export_nir`) is folded into the incoming weights.
    Anything else raises ``ValueError`` naming the node and field.

    Args:
      graph: a ``nir.NIRGraph`` or the path of a ``.nir`` file.
      max_spikes: spike buffer per spiking layer (int for all, or one per layer); ``None``
        takes it from the node metadata written by :func:`~snnjax.interop.nir.export_nir`.
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
    nir = nir_module()
    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"import_nir expects a nir.NIRGraph or a path, got {type(graph)}")
    chain = _chain(graph)
    shape, snn_input_shape = _snn_input_shape(chain[0], graph.nodes[chain[0]])
    n_spiking = sum(isinstance(graph.nodes[k], nir.CubaLIF) for k in chain)
    b = _Build(
        shape=shape,
        max_spikes=_per_layer_option(
            _FROM_METADATA if max_spikes is None else max_spikes, n_spiking, "max_spikes"
        ),
        t_max=_per_layer_option(_FROM_METADATA if t_max is None else t_max, n_spiking, "t_max"),
        max_input_events=_per_layer_option(max_input_events, n_spiking, "max_input_events"),
        pool_max_spikes=pool_max_spikes,
    )
    for name in chain[1:]:
        node = graph.nodes[name]
        kind = type(node).__name__
        where = f"node '{name}' ({kind})"
        if b.pending is not None and not isinstance(node, nir.CubaLIF):
            raise ValueError(
                f"import_nir: node '{b.pending[0]}' ({b.pending[1]}) must be "
                f"followed by a CubaLIF node, got {where}; snnjax layers are "
                f"synapse + neuron pairs"
            )
        handler = _importer(nir, node)
        if handler is None:
            raise ValueError(
                f"{where}: node type {kind} is not representable in snnjax "
                f"(supported: Input, Linear, Affine with zero bias, Conv2d, "
                f"CubaLIF, SumPool2d, Flatten, Output)"
            )
        handler(name, node, where, b)
    return _finish(b, snn_input_shape, param_dtype)


def load_nir(path: str | os.PathLike, **kwargs: Any) -> tuple[SpikingNetwork, dict[str, Any]]:
    """Read a ``.nir`` file (``nir.read``) and :func:`import_nir` it (same keyword args)."""
    return import_nir(nir_module().read(path), **kwargs)
