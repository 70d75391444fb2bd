"""A run records where its data came from, and eval / trade-off reports find it again
without ``--data-dir`` (issue 14), refusing files that differ from the recorded ones."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import shared_data_dir

from snnjax.configs import get_config
from snnjax.data import load_dataset
from snnjax.reports.tradeoffs import load_trained_run
from snnjax.train import evaluate_run, train
from snnjax.train.provenance import DataMismatchError

MNIST = shared_data_dir() / "mnist"
TINY = [
    "sizes=784,8,10",
    "max_spikes=3,3",
    "train_subset=40",
    "test_subset=20",
    "n_validation=20",
    "batch_size=20",
    "eval_batch_size=20",
    "epochs=1",
]


def _have_mnist() -> bool:
    try:
        load_dataset("mnist", "test", data_dir=MNIST, source="idx")
    except (FileNotFoundError, ValueError):
        return False
    return True


pytestmark = pytest.mark.skipif(not _have_mnist(), reason="MNIST IDX files not available")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch MNIST run trained on a private copy of the data."""
    root = tmp_path_factory.mktemp("provenance")
    data = root / "data"
    shutil.copytree(MNIST, data, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    run = root / "run"
    train(get_config("mnist_multispike", TINY), run, data_dir=data, quiet=True)
    return run, data


def test_run_records_directory_and_checksums(trained):
    run, data = trained
    info = json.loads((run / "run.json").read_text())
    assert info["data_dir"] == str(data.resolve())
    names = {p.rsplit("/", 1)[-1]: md5 for p, md5 in info["data_files"].items()}
    assert set(names) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert all(len(md5) == 32 for md5 in names.values())


def test_eval_and_tradeoffs_find_the_recorded_data(trained, monkeypatch):
    run, data = trained
    monkeypatch.delenv("SNNJAX_DATA_DIR", raising=False)
    monkeypatch.chdir(run.parent)  # no relative path to the data could help
    result = evaluate_run(run, checkpoint="best")
    assert result["data_source"].startswith(f"idx:{data.resolve()}")
    assert result["n"] == 20
    loaded = load_trained_run(run, n_samples=5)
    assert loaded.labels.shape == (5,)


def test_other_content_under_a_recorded_name_is_refused(trained, tmp_path):
    # Known files (MNIST) are checked against their published md5 anyway; a file without
    # a known md5 is checked against the run's record: simulate a record of other bytes.
    run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    info = json.loads((copy / "run.json").read_text())
    path = next(p for p in info["data_files"] if p.endswith("t10k-labels-idx1-ubyte.gz"))
    info["data_files"][path] = "0" * 32
    (copy / "run.json").write_text(json.dumps(info))
    with pytest.raises(DataMismatchError, match=r"t10k-labels-idx1-ubyte\.gz.*md5 0{32}"):
        evaluate_run(copy)


def test_an_explicit_data_dir_overrides_the_record(trained, tmp_path):
    run, data = trained
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    result = evaluate_run(run, data_dir=moved)
    assert result["data_source"].startswith(f"idx:{moved}")
