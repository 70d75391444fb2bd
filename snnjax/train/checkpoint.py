"""Orbax checkpoints of a run: the last epochs (for resume) and the best epoch.

Layout under ``RUN_DIR/checkpoints/``::

    last/<epoch>/   TrainState + metadata, saved after every epoch (keeps the newest few)
    best/<epoch>/   the epoch with the best validation accuracy so far (keeps one)

Saves are synchronous, and Orbax commits a step atomically, so an interruption at any
time leaves the newest *complete* checkpoint to resume from (the temporary directory of
a cut save is removed when the run is opened again).

Every save records, in its metadata, a SHA-256 checksum of the saved arrays
(:func:`state_checksum`, key ``"state_sha256"``); :meth:`RunCheckpoints.restore`
recomputes it and refuses a checkpoint whose arrays do not match (or cannot be read),
raising :class:`CheckpointError` with the checkpoint's directory and what to do.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from snnjax.train.step import TrainState

__all__ = ["CheckpointError", "RunCheckpoints", "state_checksum"]

CHECKSUM_KEY = "state_sha256"


class CheckpointError(ValueError):
    """A checkpoint exists but cannot be used: its arrays cannot be read, or do not match
    the checksum saved with them (the files were damaged or replaced). The message names
    the checkpoint's directory and the way on."""


def _to_tree(state: TrainState) -> dict[str, Any]:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


def _host_array(leaf) -> np.ndarray:
    """A leaf on the host (a replicated array of several processes: this process' copy)."""
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        leaf = leaf.addressable_data(0)
    return np.ascontiguousarray(np.asarray(leaf))


def state_checksum(state: TrainState) -> str:
    """SHA-256 (hex) of a training state's arrays: the dtype, shape and bytes of every leaf
    of ``params``, ``opt_state`` and ``step``, in tree order."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(_to_tree(state)):
        arr = _host_array(leaf)
        digest.update(f"{arr.dtype.str}{arr.shape};".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


class RunCheckpoints:
    """The ``last`` and ``best`` checkpoints of one run.

    Args:
      directory: ``RUN_DIR/checkpoints``.
      keep: number of ``last`` checkpoints to keep.
      read_only: only restore (evaluation): nothing is created or removed, so a run that is
        training meanwhile is not disturbed.
    """

    def __init__(
        self, directory: str | os.PathLike[str], keep: int = 2, *, read_only: bool = False
    ):
        self.directory = os.path.abspath(os.fspath(directory))
        self._managers: dict[str, ocp.CheckpointManager] = {}
        self._keep = {"last": int(keep), "best": 1}
        self._read_only = read_only

    def _manager(self, kind: str) -> ocp.CheckpointManager:
        if kind not in self._managers:
            # cleanup_tmp_directories: remove the temporary directory of a save that was
            # interrupted (its step is not committed, so it is not a checkpoint).
            writable = not self._read_only
            options = ocp.CheckpointManagerOptions(
                max_to_keep=self._keep[kind],
                create=writable,
                read_only=self._read_only,
                enable_async_checkpointing=False,
                cleanup_tmp_directories=writable,
            )
            self._managers[kind] = ocp.CheckpointManager(
                os.path.join(self.directory, kind), options=options
            )
        return self._managers[kind]

    def path(self, kind: str, epoch: int) -> str:
        """The directory of checkpoint ``kind``/``epoch``."""
        return os.path.join(self.directory, kind, str(epoch))

    def latest_epoch(self, kind: str = "last") -> int | None:
        """Epoch of the newest complete checkpoint of ``kind``, or None."""
        if not os.path.isdir(os.path.join(self.directory, kind)):
            return None
        return self._manager(kind).latest_step()

    def epochs(self, kind: str = "last") -> list[int]:
        """Epochs of the complete checkpoints of ``kind``, in increasing order."""
        if not os.path.isdir(os.path.join(self.directory, kind)):
            return []
        return sorted(self._manager(kind).all_steps())

    def save(self, kind: str, epoch: int, state: TrainState, meta: dict[str, Any]) -> None:
        """Save ``state`` and JSON ``meta`` (plus the state's checksum) as ``kind``/``epoch``
        (waits until written)."""
        meta = {**meta, CHECKSUM_KEY: state_checksum(state)}
        mngr = self._manager(kind)
        mngr.save(
            epoch,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_tree(state)), meta=ocp.args.JsonSave(meta)
            ),
            force=True,
        )
        mngr.wait_until_finished()

    def meta(self, kind: str, epoch: int | None = None) -> dict[str, Any]:
        """The meta saved with ``kind``/``epoch`` (newest unless given), without its arrays.

        Raises:
          FileNotFoundError: no checkpoint of that kind.
          CheckpointError: the meta cannot be read.
        """
        epoch = self.latest_epoch(kind) if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"no {kind!r} checkpoint in {self.directory}")
        try:
            restored = self._manager(kind).restore(
                epoch, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            )
        except Exception as err:
            raise CheckpointError(
                f"checkpoint {self.path(kind, epoch)} cannot be read: "
                f"{err}; {self._way_on(kind, epoch)}"
            ) from err
        return dict(restored["meta"])

    def _way_on(self, kind: str, epoch: int) -> str:
        other = "best" if kind == "last" else "last"
        return (
            f"evaluate the other checkpoint (snnjax eval --checkpoint {other}), or delete "
            f"{self.path(kind, epoch)} (training then resumes from the newest checkpoint "
            "left)"
        )

    def restore(
        self, kind: str, like: TrainState, epoch: int | None = None
    ) -> tuple[TrainState, dict[str, Any]]:
        """Restore ``kind`` (newest epoch unless given) into the structure of ``like``.

        Returns:
          ``(state, meta)``: the meta saved with it (``"epoch"``, ``"best_epoch"``, ...).

        Raises:
          FileNotFoundError: no checkpoint of that kind.
          CheckpointError: the checkpoint cannot be read, or its arrays do not match the
            checksum saved with them.
        """
        epoch = self.latest_epoch(kind) if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"no {kind!r} checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_tree(like))
        try:
            restored = self._manager(kind).restore(
                epoch,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
                ),
            )
        except FileNotFoundError:
            raise
        except Exception as err:
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            reason = reason if len(reason) <= 240 else reason[:240] + "..."
            raise CheckpointError(
                f"checkpoint {self.path(kind, epoch)} cannot be read (damaged, or not a "
                f"checkpoint of this run's network): {reason}; "
                f"{self._way_on(kind, epoch)}"
            ) from err
        tree, meta = restored["state"], dict(restored["meta"])
        state = TrainState(tree["params"], tree["opt_state"], tree["step"])
        expected = meta.get(CHECKSUM_KEY)  # absent in checkpoints of older versions
        if expected is not None and state_checksum(state) != expected:
            raise CheckpointError(
                f"checkpoint {self.path(kind, epoch)} is damaged: its arrays do not match "
                f"the checksum saved with them; {self._way_on(kind, epoch)}"
            )
        return state, meta

    def close(self) -> None:
        """Close the Orbax managers (waits for pending work)."""
        for mngr in self._managers.values():
            mngr.close()
        self._managers.clear()
