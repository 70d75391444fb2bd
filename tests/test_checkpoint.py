"""Tests of snnjax.train.checkpoint: checkpoints verify themselves (issue 13).

Every save records a checksum of the saved arrays; a restore whose arrays do not match
it, or cannot be read, raises :class:`CheckpointError` naming the checkpoint directory
and the way on — for ``snnjax eval``, a resumed ``snnjax train`` and ``snnjax tradeoffs``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from snnjax.cli import main
from snnjax.configs import get_config
from snnjax.train import CheckpointError, RunCheckpoints, TrainState, train
from snnjax.train.checkpoint import state_checksum


def _state(scale: float = 1.0) -> TrainState:
    params = {
        "layers_0": {"kernel": scale * jnp.arange(12.0).reshape(3, 4)},
        "layers_1": {"kernel": scale * jnp.linspace(-1.0, 1.0, 8).reshape(4, 2)},
    }
    return TrainState(params, optax.adam(1e-3).init(params), jnp.int32(7))


def _leaves(state) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(state)]


def _save(directory: Path, states: dict[int, TrainState]) -> None:
    ckpts = RunCheckpoints(directory, keep=5)
    try:
        for epoch, state in states.items():
            ckpts.save("last", epoch, state, {"epoch": epoch})
    finally:
        ckpts.close()


def _restore(directory: Path, epoch: int):
    ckpts = RunCheckpoints(directory)
    try:
        return ckpts.restore("last", _state(0.0), epoch)
    finally:
        ckpts.close()


def _data_files(checkpoint: Path) -> list[Path]:
    """The files holding the array data of a checkpoint (TensorStore OCDBT data files)."""
    return sorted(
        p for p in (checkpoint / "state").rglob("*") if p.is_file() and p.parent.name == "d"
    )


def test_checksum_is_saved_and_verified(tmp_path):
    state = _state()
    _save(tmp_path, {1: state})
    restored, meta = _restore(tmp_path, 1)
    assert meta["epoch"] == 1
    assert meta["state_sha256"] == state_checksum(state)
    for a, b in zip(_leaves(state), _leaves(restored), strict=True):
        np.testing.assert_array_equal(a, b)
    # The checksum sees every leaf: a parameter, the optimizer state, the step.
    assert state_checksum(_state(1.0 + 1e-7)) != state_checksum(state)
    assert state_checksum(state._replace(step=jnp.int32(8))) != state_checksum(state)
    bumped = jax.tree.map(lambda x: x + 1, state.opt_state[0].mu)
    other = state._replace(opt_state=(state.opt_state[0]._replace(mu=bumped), *state.opt_state[1:]))
    assert state_checksum(other) != state_checksum(state)


# Orbax leaves an asyncio callback behind when TensorStore fails to read a damaged file.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_flipped_bytes_never_load_silently(tmp_path):
    """A byte flipped anywhere in the array data either raises CheckpointError naming the
    checkpoint, or (a file the checkpoint does not use) restores the saved arrays."""
    good = tmp_path / "good"
    state = _state()
    _save(good, {1: state})
    files = _data_files(good / "last" / "1")
    assert files
    raised = 0
    for file in files:
        size = file.stat().st_size
        for offset in sorted({0, size // 3, size // 2, size - 1}):
            damaged = tmp_path / "damaged"
            shutil.rmtree(damaged, ignore_errors=True)
            shutil.copytree(good, damaged)
            target = damaged / file.relative_to(good)
            data = bytearray(target.read_bytes())
            data[offset] ^= 0x10
            target.write_bytes(bytes(data))
            try:
                restored, _ = _restore(damaged, 1)
            except CheckpointError as err:
                raised += 1
                assert str(damaged / "last" / "1") in str(err)  # noqa: PT017 (some damages raise, some do not)
                assert "--checkpoint best" in str(err)  # noqa: PT017 (some damages raise, some do not)
                assert "delete" in str(err)  # noqa: PT017 (some damages raise, some do not)
                continue
            for a, b in zip(_leaves(state), _leaves(restored), strict=True):
                np.testing.assert_array_equal(a, b)
    assert raised > 0


def test_replaced_arrays_are_refused(tmp_path):
    """Array data that reads well but is not what was saved (here: another epoch's) is
    refused by the checksum; without it, the other epoch's weights load silently."""
    _save(tmp_path, {1: _state(1.0), 2: _state(2.0)})
    shutil.rmtree(tmp_path / "last" / "2" / "state")
    shutil.copytree(tmp_path / "last" / "1" / "state", tmp_path / "last" / "2" / "state")
    with pytest.raises(CheckpointError, match="do not match the checksum") as info:
        _restore(tmp_path, 2)
    assert str(tmp_path / "last" / "2") in str(info.value)
    _restore(tmp_path, 1)  # the other checkpoint is fine


def test_checkpoints_without_checksum_still_load(tmp_path):
    """Checkpoints of older versions have no checksum: they load as before."""
    ckpts = RunCheckpoints(tmp_path)
    try:
        ckpts.save("last", 1, _state(), {"epoch": 1})
    finally:
        ckpts.close()
    meta_file = tmp_path / "last" / "1" / "meta" / "metadata"
    text = meta_file.read_text()
    assert "state_sha256" in text
    meta = json.loads(text)
    del meta["state_sha256"]
    meta_file.write_text(json.dumps(meta))
    restored, meta = _restore(tmp_path, 1)
    assert meta == {"epoch": 1}
    np.testing.assert_array_equal(_leaves(restored)[0], _leaves(_state())[0])


def _damage(checkpoint: Path) -> None:
    """Replace a checkpoint's arrays by another checkpoint's of the same run."""
    others = [
        p
        for p in checkpoint.parent.parent.glob("*/*")
        if p.name != checkpoint.name and p.is_dir() and p.name.isdigit()
    ]
    shutil.rmtree(checkpoint / "state")
    shutil.copytree(others[0] / "state", checkpoint / "state")


def test_eval_resume_and_tradeoffs_refuse_a_damaged_checkpoint(tmp_path, capsys):
    cfg = get_config(
        "yinyang_multispike",
        [
            "sizes=5,8,3",
            "thetas=0.1,0.1",
            "lr=0.01",
            "epochs=2",
            "train_subset=64",
            "n_validation=32",
            "test_subset=32",
            "batch_size=16",
        ],
    )
    run = tmp_path / "run"
    train(cfg, run, log=lambda _msg: None)
    _damage(run / "checkpoints" / "last" / "2")
    last = str(run / "checkpoints" / "last" / "2")
    # (eval's default checkpoint is best since issue 14: the damaged one is asked for)
    assert main(["eval", str(run), "--checkpoint", "last"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("snnjax eval: error: checkpoint")
    assert last in err
    assert "do not match the checksum" in err
    assert "--checkpoint best" in err
    assert main(["eval", str(run)]) == 0  # best, the default, is intact
    capsys.readouterr()
    assert (
        main(
            [
                "tradeoffs",
                str(run),
                "--checkpoint",
                "last",
                "--out",
                str(tmp_path / "report"),
                "--n-samples",
                "8",
                "--noise-seeds",
                "1",
            ]
        )
        == 2
    )
    assert last in capsys.readouterr().err
    # Extending the run resumes from last/2: refused, with the way on.
    longer = dataclasses.replace(cfg, epochs=3)
    with pytest.raises(CheckpointError, match="delete") as info:
        train(longer, run, log=lambda _msg: None)
    assert last in str(info.value)
