r"""Data-parallel training over devices with JAX's own sharding.

A one-axis :class:`jax.sharding.Mesh` (axis ``"data"``) over ``n`` devices: every batch
is split along its first axis into ``n`` equal shards, the parameters and optimizer state
are replicated, and each device computes the loss and exact event gradients of its shard
inside :func:`jax.shard_map`; the gradients are averaged with :func:`jax.lax.pmean` and the
batch statistics summed with :func:`jax.lax.psum` (XLA all-reduces), then every device
applies the same Optax update. The result equals the one-device step on the whole batch up
to the order of float additions in the reductions.

Why ``shard_map`` and not automatic (GSPMD) partitioning of the jitted step: the compiled
CPU kernel is an XLA FFI custom call that the SPMD partitioner cannot split, and the
pure-JAX kernel's ``while_loop`` over events would be partitioned no better. Inside
``shard_map`` each device runs the ordinary per-sample kernel on its own shard, with either
event backend (``"ffi"`` or ``"loop"``).

On the CPU backend (devices made with ``--xla_force_host_platform_device_count``), XLA
(jax 0.10.2) can deadlock in the all-reduce when several executions of a collective
program are queued at once (a pure-JAX ``shard_map`` + ``psum`` loop of 2000 steps on 2
devices aborts after its 40 s rendezvous timeout; blocking after each step never did), so
there the steps keep at most one execution in flight (:func:`one_step_in_flight`). GPU
and TPU keep JAX's asynchronous dispatch.

Multi-host (several processes, e.g. one per GPU host or TPU VM): call
:func:`jax.distributed.initialize` first (``snnjax train --distributed``); ``jax.devices()``
then lists the devices of all processes, the mesh spans them, and every process feeds the
same global batch (the batch order depends only on ``(seed, epoch)``), of which each
process transfers only the shards of its own devices (:func:`shard_batch`).

Example:
  >>> mesh = data_mesh()  # doctest: +SKIP
  >>> step = make_train_step(model, config, optimizer, mesh=mesh)  # doctest: +SKIP
  >>> state = replicate(state, mesh)  # doctest: +SKIP
  >>> state, metrics = step(state, shard_batch(times, mesh), shard_batch(labels, mesh))
  ... # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

__all__ = [
    "DATA_AXIS",
    "data_mesh",
    "mesh_size",
    "check_batch_size",
    "replicate",
    "shard_batch",
    "describe_devices",
    "one_step_in_flight",
]

#: Name of the mesh axis the batch is split over.
DATA_AXIS = "data"


def data_mesh(n_devices: int | None = None) -> Mesh:
    """A one-axis ``("data",)`` mesh over the first ``n_devices`` of :func:`jax.devices`.

    Args:
      n_devices: number of devices; ``None`` = all devices (of all processes after
        :func:`jax.distributed.initialize`).

    Raises:
      ValueError: ``n_devices`` < 1 or more than there are.
    """
    devices = jax.devices()
    n = len(devices) if n_devices is None else int(n_devices)
    if not 1 <= n <= len(devices):
        raise ValueError(
            f"asked for {n} devices, but jax sees {len(devices)} "
            f"({devices[0].platform}); on a CPU, XLA_FLAGS="
            "--xla_force_host_platform_device_count=N (set before jax is "
            "imported) makes N devices"
        )
    return jax.make_mesh((n,), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=devices[:n])


def mesh_size(mesh: Mesh | None) -> int:
    """Number of devices the batch is split over (1 without a mesh)."""
    return 1 if mesh is None else int(mesh.shape[DATA_AXIS])


def check_batch_size(batch_size: int, mesh: Mesh | None, what: str = "batch size") -> None:
    """Raise ``ValueError`` unless ``batch_size`` splits evenly over the mesh's devices."""
    n = mesh_size(mesh)
    if batch_size % n:
        raise ValueError(
            f"{what} {batch_size} is not divisible by the {n} devices of the "
            f"data-parallel mesh; choose a multiple of {n} (e.g. "
            f"{max(n, batch_size - batch_size % n)}) or fewer devices"
        )


def replicate(tree: Any, mesh: Mesh) -> Any:
    """``tree`` with every array replicated on all devices of ``mesh`` (parameters,
    optimizer state)."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(x: np.ndarray, mesh: Mesh) -> jax.Array:
    """A global array of the host batch ``x`` ``[B, ...]``, split along axis 0 over the mesh.

    Every process passes the same full batch; each transfers only its own devices' shards
    (works with one process and with several after :func:`jax.distributed.initialize`).

    Raises:
      ValueError: ``B`` is not divisible by the number of devices.
    """
    x = np.asarray(x)
    check_batch_size(x.shape[0], mesh)
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def describe_devices(mesh: Mesh | None) -> str:
    """What a run computes on, for logs: ``"cpu:cpu (x1)"``, ``"cpu:cpu (x1 of 4)"``, or
    ``"cpu:cpu (x4, data-parallel mesh data=4)"`` (plus the process count if > 1)."""
    if mesh is None:
        dev = jax.devices()[0]
        total = jax.device_count()
        used = "x1" if total == 1 else f"x1 of {total}"
        return f"{dev.platform}:{dev.device_kind} ({used})"
    dev = mesh.devices.flat[0]
    n = mesh_size(mesh)
    text = f"{dev.platform}:{dev.device_kind} (x{n}, data-parallel mesh {DATA_AXIS}={n}"
    if jax.process_count() > 1:
        text += f", {jax.process_count()} processes"
    return text + ")"


def one_step_in_flight(fn, mesh: Mesh):
    """``fn`` (a jitted data-parallel step returning a pytree) wrapped so that, on the CPU
    backend with more than one device, each call first waits for the previous call's
    results: at most one execution is in flight, which avoids XLA:CPU's all-reduce
    deadlock under queued executions (see the module docstring). The host still prepares
    the next batch while a step runs. Elsewhere ``fn`` is returned unchanged."""
    if mesh_size(mesh) == 1 or mesh.devices.flat[0].platform != "cpu":
        return fn
    pending = []

    def call(*args):
        if pending:
            jax.block_until_ready(pending.pop())
        out = fn(*args)
        pending.append(out)
        return out

    call.__wrapped__ = fn
    return call
