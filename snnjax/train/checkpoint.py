"""Orbax checkpoints of a run: the last epochs (for resume) and the best epoch.

Layout under ``RUN_DIR/checkpoints/``::

    last/<epoch>/   TrainState + metadata, saved after every epoch (keeps the newest few)
    best/<epoch>/   the epoch with the best validation accuracy so far (keeps one)

Saves are synchronous, and Orbax commits a step atomically, so an interruption at any
time leaves the newest *complete* checkpoint to resume from.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from snnjax.train.step import TrainState

__all__ = ["RunCheckpoints"]


def _to_tree(state: TrainState) -> dict[str, Any]:
    return {"params": state.params, "opt_state": state.opt_state, "step": state.step}


class RunCheckpoints:
    """The ``last`` and ``best`` checkpoints of one run.

    Args:
      directory: ``RUN_DIR/checkpoints``.
      keep: number of ``last`` checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike[str], keep: int = 2):
        self.directory = os.path.abspath(os.fspath(directory))
        self._managers: dict[str, ocp.CheckpointManager] = {}
        self._keep = {"last": int(keep), "best": 1}

    def _manager(self, kind: str) -> ocp.CheckpointManager:
        if kind not in self._managers:
            # cleanup_tmp_directories: remove the temporary directory of a save that was
            # interrupted (its step is not committed, so it is not a checkpoint).
            options = ocp.CheckpointManagerOptions(
                max_to_keep=self._keep[kind], create=True, enable_async_checkpointing=False,
                cleanup_tmp_directories=True)
            self._managers[kind] = ocp.CheckpointManager(
                os.path.join(self.directory, kind), options=options)
        return self._managers[kind]

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
        """Save ``state`` and JSON ``meta`` as ``kind``/``epoch`` (waits until written)."""
        mngr = self._manager(kind)
        mngr.save(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardSave(_to_tree(state)), meta=ocp.args.JsonSave(meta)),
            force=True)
        mngr.wait_until_finished()

    def restore(self, kind: str, like: TrainState, epoch: int | None = None
                ) -> tuple[TrainState, dict[str, Any]]:
        """Restore ``kind`` (newest epoch unless given) into the structure of ``like``.

        Raises:
          FileNotFoundError: no checkpoint of that kind.
        """
        epoch = self.latest_epoch(kind) if epoch is None else epoch
        if epoch is None:
            raise FileNotFoundError(f"no {kind!r} checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_tree(like))
        restored = self._manager(kind).restore(epoch, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
        tree = restored["state"]
        return TrainState(tree["params"], tree["opt_state"], tree["step"]), dict(restored["meta"])

    def close(self) -> None:
        for mngr in self._managers.values():
            mngr.close()
        self._managers.clear()
