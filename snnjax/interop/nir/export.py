"""NIR export: a :class:`snnjax.nn.SpikingNetwork` and its parameters as a NIR graph.

One handler per snnjax layer type (:data:`_EXPORTERS`) appends that layer's nodes to the
chain; the mapping is derived in :mod:`snnjax.interop.nir` and ``docs/nir.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import snnjax
from snnjax.interop.nir._common import MAPPING_VERSION, layout, nir_module
from snnjax.nn import Flatten, LIFConv, LIFDense, SpikeUnionPool, SpikingNetwork

if TYPE_CHECKING:  # pragma: no cover
    import nir as nir_types

__all__ = ["export_nir", "save_nir"]


@dataclasses.dataclass
class _Chain:
    """The graph under construction: nodes in chain order and the signal reaching the end.

    Attributes:
      params: the network's ``"params"`` entry (``{"layers_<i>": {"kernel": ...}}``).
      shape: NIR shape of the signal at the end of the chain, ``(n,)`` or ``(C, H, W)``.
      flattened_from: ``(C, H, W)`` of a ``Flatten`` just before, else ``None`` (the next
        dense layer's rows are then permuted from snnjax's ``(h, w, c)`` order).
      nodes: node name -> NIR node, ``input`` first.
      chain: node names in order (the edges join neighbours).
    """

    params: Mapping[str, Any]
    shape: tuple[int, ...]
    flattened_from: tuple[int, int, int] | None = None
    nodes: dict[str, Any] = dataclasses.field(default_factory=dict)
    chain: list[str] = dataclasses.field(default_factory=list)

    def add(self, name: str, node: Any) -> None:
        self.nodes[name] = node
        self.chain.append(name)


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
        raise ValueError(
            f"{where}: {name} has shape {arr.shape}; NIR export supports a scalar "
            f"or one value per neuron/channel ({n},)"
        )
    return arr.copy()


def _scalar_t_max(module, where: str) -> float:
    t_max = np.asarray(module.t_max, dtype=np.float64)
    if t_max.ndim != 0:
        raise ValueError(f"{where}: t_max must be a scalar for NIR export, got shape {t_max.shape}")
    return float(t_max)


def _cuba_lif(module, shape: tuple[int, ...], n: int, expand, where: str):
    """The ``CubaLIF`` node of a LIF layer: ``n`` neurons (or channels), node shape ``shape``.

    ``expand`` turns a per-neuron/per-channel ``[n]`` array into an array of ``shape``.
    """
    nir = nir_module()
    tau_syn = _per_neuron(module.tau_syn, n, "tau_syn", where)
    theta = _per_neuron(module.theta, n, "theta", where)
    delta = (
        theta
        if module.delta_theta is None
        else _per_neuron(module.delta_theta, n, "delta_theta", where)
    )
    tau_mem = 2.0 * tau_syn
    # Derivation (see the package docstring and docs/nir.md). With S = sum_k W_k delta(t-t_k):
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
    return nir.CubaLIF(
        tau_syn=expand(tau_syn),
        tau_mem=expand(tau_mem),
        r=expand(r),
        v_leak=np.zeros(shape),
        v_threshold=expand(theta),
        v_reset=expand(v_reset),
        w_in=expand(w_in),
        metadata=metadata,
    )


def _layer_kernel(params: Mapping[str, Any], i: int, where: str) -> np.ndarray:
    try:
        return np.asarray(params[f"layers_{i}"]["kernel"])
    except (KeyError, TypeError) as err:
        raise ValueError(
            f"{where}: params has no 'layers_{i}' -> 'kernel' entry (pass the output of model.init)"
        ) from err


# ------------------------------------------------------------------ one handler per layer


def _export_dense(layer: LIFDense, i: int, where: str, g: _Chain) -> None:
    """``Linear`` (``weight [n_out, n_in]``) + ``CubaLIF``."""
    nir = nir_module()
    kernel = _layer_kernel(g.params, i, where)
    shape = g.shape
    if len(shape) != 1:
        raise ValueError(
            f"{where}: a dense layer on a {len(shape)}-d input {shape} "
            f"applies per position; insert a Flatten before it"
        )
    if kernel.ndim != 2 or kernel.shape != (shape[0], layer.features):
        raise ValueError(
            f"{where}: kernel shape {kernel.shape} does not match ({shape[0]}, {layer.features})"
        )
    weight = kernel.T  # [n_out, n_in], NIR's y = W x
    if g.flattened_from is not None:
        # snnjax's rows are in (h, w, c) order, NIR's flattened input in (c, h, w).
        c, h, w = g.flattened_from
        weight = (
            kernel.reshape(h, w, c, layer.features)
            .transpose(3, 2, 0, 1)
            .reshape(layer.features, c * h * w)
        )
    g.flattened_from = None
    n = layer.features
    g.shape = (n,)
    g.add(f"layers_{i}_linear", nir.Linear(weight=np.ascontiguousarray(weight)))
    g.add(f"layers_{i}_lif", _cuba_lif(layer, g.shape, n, lambda a: a.copy(), where))


def _export_conv(layer: LIFConv, i: int, where: str, g: _Chain) -> None:
    """``Conv2d`` (``weight [C_out, C_in, kh, kw]``, zero bias, "valid") + ``CubaLIF``."""
    nir = nir_module()
    kernel = _layer_kernel(g.params, i, where)
    if len(g.shape) != 3:
        raise ValueError(
            f"{where}: a conv layer needs an (H, W, C) input, got the flat shape {g.shape}"
        )
    c_in, h, w = g.shape
    kh, kw = (
        (layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int) else tuple(layer.kernel_size)
    )
    if kernel.shape != (kh, kw, c_in, layer.features):
        raise ValueError(
            f"{where}: kernel shape {kernel.shape} does not match "
            f"({kh}, {kw}, {c_in}, {layer.features})"
        )
    n = layer.features
    shape = (n, h - kh + 1, w - kw + 1)
    g.shape = shape
    weight = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # [C_out, C_in, kh, kw]
    g.add(
        f"layers_{i}_conv",
        nir.Conv2d(
            input_shape=(h, w),
            weight=weight,
            stride=(1, 1),
            padding=(0, 0),
            dilation=(1, 1),
            groups=1,
            bias=np.zeros((n,), weight.dtype),
        ),
    )
    g.add(
        f"layers_{i}_lif",
        _cuba_lif(
            layer, shape, n, lambda a, s=shape: np.broadcast_to(a[:, None, None], s).copy(), where
        ),
    )
    g.flattened_from = None


def _export_pool(layer: SpikeUnionPool, i: int, where: str, g: _Chain) -> None:
    """``SumPool2d`` with ``kernel_size = stride = window`` (spike union)."""
    nir = nir_module()
    if len(g.shape) != 3:
        raise ValueError(f"{where}: pooling needs an (H, W, C) input, got {g.shape}")
    wh, ww = (
        (layer.window,) * 2
        if isinstance(layer.window, int)
        else tuple(int(v) for v in layer.window)
    )
    c, h, w = g.shape
    if h % wh or w % ww:
        raise ValueError(f"{where}: feature map {(h, w)} is not divisible by the window {(wh, ww)}")
    g.shape = (c, h // wh, w // ww)
    meta = {
        "snnjax_module": "SpikeUnionPool",
        "semantics": "spike union (sum of "
        "event trains, coincident events counted with multiplicity)",
    }
    if layer.max_spikes is not None:
        meta["max_spikes"] = int(layer.max_spikes)
    g.add(
        f"layers_{i}_pool",
        nir.SumPool2d(
            kernel_size=np.array([wh, ww]),
            stride=np.array([wh, ww]),
            padding=np.array([0, 0]),
            metadata=meta,
        ),
    )


def _export_flatten(layer: Flatten, i: int, where: str, g: _Chain) -> None:
    """``Flatten`` over every dim of the NIR type (``start_dim=0``)."""
    del layer, where  # nothing to check
    nir = nir_module()
    node = nir.Flatten(
        input_type={"input": np.array(g.shape)},
        start_dim=0,
        end_dim=-1,
        metadata={"snnjax_module": "Flatten"},
    )
    if len(g.shape) == 3:
        g.flattened_from = g.shape
    g.shape = (int(np.prod(g.shape)),)
    g.add(f"layers_{i}_flatten", node)


_EXPORTERS: dict[type, Callable[[Any, int, str, _Chain], None]] = {
    # snnjax layer type -> handler(layer, index, "layers_<i> (Type)", chain); isinstance order
    LIFDense: _export_dense,
    LIFConv: _export_conv,
    SpikeUnionPool: _export_pool,
    Flatten: _export_flatten,
}


# ------------------------------------------------------------------------- the graph


def _nir_input_shape(
    model: SpikingNetwork, p: Mapping[str, Any], input_shape: Sequence[int] | None
) -> tuple[int, ...]:
    """The NIR shape of the input, ``(n,)`` or ``(C, H, W)``."""
    layers = list(model.layers)
    if input_shape is None:
        input_shape = model.input_shape
    if input_shape is None:
        if isinstance(layers[0], LIFDense):
            input_shape = (_layer_kernel(p, 0, "layers_0 (LIFDense)").shape[0],)
        else:
            raise ValueError(
                "export_nir: the input shape is unknown; build the network with "
                "input_shape=(H, W, C) or pass export_nir(..., input_shape=...)"
            )
    input_shape = tuple(int(s) for s in input_shape)
    if len(input_shape) == 1:
        return input_shape
    if len(input_shape) == 3:
        h, w, c = input_shape
        return (c, h, w)
    raise ValueError(f"export_nir: input_shape must be (n_in,) or (H, W, C), got {input_shape}")


def export_nir(
    model: SpikingNetwork, params: Mapping[str, Any], *, input_shape: Sequence[int] | None = None
) -> nir_types.NIRGraph:
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
    nir = nir_module()
    p = _unwrap_params(params)
    if not list(model.layers):
        raise ValueError("export_nir: the network has no layers")
    shape = _nir_input_shape(model, p, input_shape)
    g = _Chain(params=p, shape=shape)
    g.add("input", nir.Input(input_type=np.array(shape), metadata={"snnjax_layout": layout(shape)}))
    for i, layer in enumerate(model.layers):
        where = f"layers_{i} ({type(layer).__name__})"
        handler = next((h for cls, h in _EXPORTERS.items() if isinstance(layer, cls)), None)
        if handler is None:
            raise ValueError(
                f"export_nir: {where} is not supported; NIR export handles "
                f"LIFDense, LIFConv, SpikeUnionPool and Flatten"
            )
        handler(layer, i, where, g)
    g.add(
        "output",
        nir.Output(output_type=np.array(g.shape), metadata={"snnjax_layout": layout(g.shape)}),
    )
    edges = list(zip(g.chain[:-1], g.chain[1:], strict=True))
    metadata = {
        "producer": "snnjax",
        "snnjax_version": snnjax.__version__,
        "mapping": MAPPING_VERSION,
        "time_unit": "s",
        "semantics": "exact event-based simulation of the ODEs; spikes are Dirac events; "
        "see docs/nir.md of snnjax",
    }
    return nir.NIRGraph(nodes=g.nodes, edges=edges, metadata=metadata, type_check=True)


def save_nir(
    model: SpikingNetwork,
    params: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    input_shape: Sequence[int] | None = None,
) -> nir_types.NIRGraph:
    """:func:`export_nir` and write the graph to ``path`` (HDF5 ``.nir`` file, ``nir.write``).

    Returns:
      The exported graph.
    """
    graph = export_nir(model, params, input_shape=input_shape)
    nir_module().write(path, graph)
    return graph
