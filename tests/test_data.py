"""Tests of snnjax.data: Yin-Yang, the IDX reader, image datasets, batching."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from helpers import shared_data_dir
from hypothesis import given, settings
from hypothesis import strategies as st

from snnjax.data import (
    EMNIST_STANDIN_TRAIN_SIZE,
    SYSTEM_DATA_DIRS,
    YINYANG_SPLITS,
    ChecksumError,
    DatasetSpec,
    ImageDataset,
    batches,
    dataset_names,
    get_dataset,
    load_dataset,
    load_idx,
    num_batches,
    read_idx,
    train_validation_split,
    yinyang,
    yinyang_spike_times,
)
from snnjax.data import registry as data_registry

SHARED = shared_data_dir()
YINYANG_DIR = SHARED / "yinyang"
MNIST_DIR = SHARED / "mnist"
EMNIST_DIR = SHARED / "emnist"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

needs_yinyang = pytest.mark.skipif(
    not YINYANG_DIR.is_dir(), reason=f"published Yin-Yang arrays not found at {YINYANG_DIR}"
)
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"MNIST IDX files not found at {MNIST_DIR}",
)
needs_emnist = pytest.mark.skipif(
    not (EMNIST_DIR / "emnist-bymerge-test-images-idx3-ubyte.gz").is_file(),
    reason=f"EMNIST ByMerge test files not found at {EMNIST_DIR}",
)
needs_fashion = pytest.mark.skipif(
    not (FASHION_DIR / "train-images-idx3-ubyte.gz").is_file(),
    reason=f"Fashion-MNIST not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)",
)


@pytest.fixture(autouse=True)
def _no_data_dir_env(monkeypatch):
    """Tests decide themselves whether SNNJAX_DATA_DIR is set."""
    monkeypatch.delenv("SNNJAX_DATA_DIR", raising=False)


def _idx_bytes(array: np.ndarray) -> bytes:
    codes = {np.dtype("u1"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">")) if array.itemsize > 1 else array
    header = bytes([0, 0, codes[big.dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    return header + big.tobytes()


def _write_mnist_like(directory: Path, prefix: str, n: int, *, gz: bool, dotted: bool = False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
        name = f"{prefix}-{kind}-ubyte".replace("-idx", ".idx" if dotted else "-idx")
        payload = _idx_bytes(arr)
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(payload))
        else:
            (directory / name).write_bytes(payload)
    return images, labels


# ----------------------------------------------------------------------------- Yin-Yang


@needs_yinyang
@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_yinyang_reproduces_published_split_exactly(split):
    samples, labels = yinyang(split)
    ref_samples = np.load(YINYANG_DIR / f"{split}_samples.npy")
    ref_labels = np.load(YINYANG_DIR / f"{split}_labels.npy")
    assert samples.dtype == np.float64
    assert labels.dtype == np.int64
    assert samples.shape == (YINYANG_SPLITS[split][0], 4)
    assert np.array_equal(samples, ref_samples)
    assert np.array_equal(labels, ref_labels)


def test_yinyang_size_and_seed():
    full, full_labels = yinyang("train")
    head, head_labels = yinyang("train", size=25)
    assert np.array_equal(head, full[:25])
    assert np.array_equal(head_labels, full_labels[:25])
    same, _ = yinyang("test", size=25, seed=42)  # the seed, not the split, decides
    assert np.array_equal(same, head)
    other, _ = yinyang("train", size=25, seed=7)
    assert not np.array_equal(other, head)
    empty, empty_labels = yinyang("train", size=0)
    assert empty.shape == (0, 4)
    assert empty_labels.shape == (0,)


def test_yinyang_bad_split_lists_valid_ones():
    with pytest.raises(ValueError, match="train, validation, test"):
        yinyang("valid")


def test_yinyang_geometry_and_balance():
    samples, labels = yinyang("train")
    x, y = samples[:, 0], samples[:, 1]
    assert ((samples >= 0.0) & (samples <= 1.0)).all()
    np.testing.assert_allclose(samples[:, 0] + samples[:, 2], 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(samples[:, 1] + samples[:, 3], 1.0, rtol=0, atol=1e-15)
    assert ((x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.25).all()
    fractions = np.bincount(labels, minlength=3) / len(labels)
    np.testing.assert_allclose(fractions, 1 / 3, atol=0.03)
    # dots lie within r_small = 0.1 of one of the two dot centres
    dot = labels == 2
    d = np.minimum(np.hypot(x - 0.25, y - 0.5), np.hypot(x - 0.75, y - 0.5))
    assert (d[dot] < 0.1).all()
    assert (d[~dot] >= 0.1).all()
    # yin and yang are mirror images: their means are point-reflected through the centre
    m0, m1 = samples[labels == 0, :2].mean(0), samples[labels == 1, :2].mean(0)
    np.testing.assert_allclose(m0 + m1, 1.0, atol=0.03)
    assert abs(m0[1] - m1[1]) > 0.1


def test_yinyang_spike_times_encoding():
    samples, _ = yinyang("test", size=50)
    times = yinyang_spike_times(samples)
    assert times.shape == (50, 5, 1)
    assert times.dtype == np.float64
    np.testing.assert_allclose(times[:, :4, 0], 0.1 * samples, rtol=0, atol=1e-17)
    assert (times[:, 4, 0] == 0.0).all()
    assert np.isfinite(times).all()

    times = yinyang_spike_times(samples, t_early=0.02, t_late=0.2, bias_time=0.05)
    np.testing.assert_allclose(times[:, :4, 0], 0.02 + 0.18 * samples, rtol=1e-15)
    assert (times[:, 4, 0] == 0.05).all()
    assert ((times[:, :4] >= 0.02) & (times[:, :4] <= 0.2)).all()
    edge = yinyang_spike_times(np.array([[0.0, 1.0, 1.0, 0.0]]), t_early=0.01, t_late=0.03)
    np.testing.assert_allclose(edge[0, :, 0], [0.01, 0.03, 0.03, 0.01, 0.0])


@pytest.mark.parametrize(
    "bad",
    [np.zeros((3, 5)), np.zeros(4), np.full((2, 4), 1.5), np.full((2, 4), np.nan)],
)
def test_yinyang_spike_times_rejects_bad_input(bad):
    with pytest.raises(ValueError, match=r"must have shape \[N, 4\]|must lie in \[0, 1\]"):
        yinyang_spike_times(bad)


# ----------------------------------------------------------------------------- IDX reader


@pytest.fixture(scope="module")
def mnist_train_images():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST IDX files not found at {MNIST_DIR}")
    return load_idx(MNIST_DIR / "train-images-idx3-ubyte.gz", dataset="mnist")


@needs_mnist
def test_read_idx_real_mnist(mnist_train_images):
    f = mnist_train_images
    assert f.data.shape == (60000, 28, 28)
    assert f.data.dtype == np.uint8
    assert f.verified
    assert f.md5 == "6bbc9ace898e44ae57da46a324031adb"
    assert f.identity == ("mnist", "train-images-idx3-ubyte")
    assert f.data.max() == 255
    assert f.data.min() == 0
    labels = load_idx(MNIST_DIR / "train-labels-idx1-ubyte.gz")  # identified by md5 alone
    assert labels.verified
    assert labels.identity == ("mnist", "train-labels-idx1-ubyte")
    assert labels.data.shape == (60000,)
    assert labels.data.dtype == np.uint8
    assert labels.data.min() == 0
    assert labels.data.max() == 9
    assert np.bincount(labels.data).min() > 5000
    test = read_idx(MNIST_DIR / "t10k-images-idx3-ubyte.gz", dataset="mnist")
    assert test.shape == (10000, 28, 28)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_tiny_file(tmp_path, gz, caplog):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    payload = _idx_bytes(arr)
    path = tmp_path / ("tiny-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with caplog.at_level("INFO", logger="snnjax.data.idx"):
        f = load_idx(path)
    assert np.array_equal(f.data, arr)
    assert f.data.dtype == np.uint8
    assert f.md5 == hashlib.md5(payload).hexdigest()
    assert f.expected_md5 is None
    assert f.identity is None
    assert not f.verified
    assert "WITHOUT checksum verification" in caplog.text
    assert np.array_equal(read_idx(path), arr)
    # an explicit md5 verifies it
    assert load_idx(path, expected_md5=f.md5).verified


def test_read_idx_other_dtypes_to_native(tmp_path):
    for arr in (np.array([1, -2, 70000], dtype=np.int32), np.array([[0.5, -1e300]])):
        path = tmp_path / "x.idx"
        path.write_bytes(_idx_bytes(arr.astype(arr.dtype.newbyteorder(">"))))
        out = read_idx(path)
        assert out.dtype.isnative
        assert np.array_equal(out, arr)


def test_read_idx_checksum_mismatch(tmp_path):
    payload = _idx_bytes(np.zeros(5, dtype=np.uint8))
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload))
    actual = hashlib.md5(payload).hexdigest()
    with pytest.raises(ChecksumError) as err:
        load_idx(path, dataset="mnist")
    msg = str(err.value)
    assert str(path) in msg
    assert "a25bea736e30d166cdddb491f175f624" in msg
    assert actual in msg
    with pytest.raises(ChecksumError, match="0" * 32):
        read_idx(path, expected_md5="0" * 32)
    # without a dataset the name alone (shared by MNIST and Fashion-MNIST) is not enough
    assert not load_idx(path).verified


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x00\x08",
        b"\x01\x02\x08\x01\x00\x00\x00\x01\x00",
        b"\x00\x00\x08\x01\x00\x00\x00\x05\x00",
    ],
    ids=["short", "bad-magic", "truncated"],
)
def test_read_idx_malformed(tmp_path, payload):
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match="IDX"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope.gz")


# ----------------------------------------------------------------------------- load_dataset


def _check_image_dataset(ds: ImageDataset, n: int, num_classes: int):
    assert isinstance(ds, ImageDataset)
    assert len(ds) == n
    assert ds.images.shape == (n, 28, 28)
    assert ds.images.dtype == np.uint8
    assert ds.labels.shape == (n,)
    assert ds.labels.dtype == np.int64
    assert ds.num_classes == num_classes
    assert ds.labels.min() >= 0
    assert ds.labels.max() < num_classes


@needs_mnist
@pytest.mark.parametrize("data_dir", [str(SHARED), str(MNIST_DIR)], ids=["root", "direct"])
def test_load_mnist_via_data_dir(data_dir):
    ds = load_dataset("mnist", "test", data_dir=data_dir)
    _check_image_dataset(ds, 10000, 10)
    assert ds.name == "mnist"
    assert ds.split == "test"
    assert ds.checksum_verified
    assert ds.source == f"idx:{MNIST_DIR}"
    assert np.bincount(ds.labels).tolist()[:2] == [980, 1135]


@needs_mnist
def test_load_mnist_via_env(monkeypatch, mnist_train_images):
    monkeypatch.setenv("SNNJAX_DATA_DIR", str(SHARED))
    ds = load_dataset("mnist", "test")
    assert ds.source == f"idx:{MNIST_DIR}"
    assert ds.checksum_verified
    _check_image_dataset(ds, 10000, 10)


@needs_mnist
def test_data_dir_searched_first_then_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SNNJAX_DATA_DIR", str(SHARED))
    ds = load_dataset("mnist", "test", data_dir=tmp_path)  # not there: falls back to env
    assert ds.source == f"idx:{MNIST_DIR}"
    _write_mnist_like(tmp_path / "mnist", "t10k", 3, gz=True)
    with pytest.raises(ChecksumError):  # present in data_dir but not MNIST: not skipped
        load_dataset("mnist", "test", data_dir=tmp_path)


def test_load_unverified_local_copy(tmp_path, caplog):
    """EMNIST Balanced IDX files have no known md5: loaded, upright, but not verified."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 47, size=7, dtype=np.uint8)
    directory = tmp_path / "emnist"
    directory.mkdir()
    for kind, arr in (("images.idx3", images), ("labels.idx1", labels)):  # dotted, raw
        (directory / f"emnist-balanced-test-{kind}-ubyte").write_bytes(_idx_bytes(arr))
    with caplog.at_level("WARNING", logger="snnjax.data.images"):
        ds = load_dataset("emnist", "test", data_dir=tmp_path, source="idx")
    assert np.array_equal(ds.images, images.transpose(0, 2, 1))
    assert ds.images.flags.c_contiguous
    assert np.array_equal(ds.labels, labels)
    assert not ds.checksum_verified
    assert "WITHOUT checksum" in caplog.text
    assert ds.source == f"idx:{directory}"
    with pytest.raises(FileNotFoundError, match=f"data_dir {tmp_path}"):
        load_dataset("emnist", "train", data_dir=tmp_path, source="idx")


@needs_emnist
def test_emnist_balanced_and_standin_never_mixed(tmp_path):
    directory = tmp_path / "emnist"
    directory.mkdir()
    for f in EMNIST_DIR.glob("emnist-bymerge-test-*.gz"):
        (directory / f.name).symlink_to(f)
    (directory / "emnist-balanced-test-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="Balanced files but not the 'train' split"):
        load_dataset("emnist", "train", data_dir=tmp_path)


def test_corrupt_copy_of_known_file_is_rejected(tmp_path):
    _write_mnist_like(tmp_path / "MNIST" / "raw", "t10k", 7, gz=False, dotted=True)
    with pytest.raises(ChecksumError, match="2646ac647ad5339dbf082846283269ea"):
        load_dataset("mnist", "test", data_dir=tmp_path)


@needs_mnist
def test_wrong_dataset_directory_is_caught():
    with pytest.raises(ChecksumError, match="known mnist file"):
        load_dataset("fashion_mnist", "test", data_dir=MNIST_DIR)


@needs_fashion
def test_load_fashion_mnist_from_debian_package(monkeypatch):
    ds = load_dataset("fashion-mnist", "test")
    _check_image_dataset(ds, 10000, 10)
    assert ds.name == "fashion_mnist"
    assert ds.checksum_verified
    assert ds.source == f"idx:{FASHION_DIR}"
    assert np.bincount(ds.labels).tolist() == [1000] * 10


@pytest.fixture(scope="module")
def emnist():
    if not (EMNIST_DIR / "emnist-bymerge-test-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"EMNIST ByMerge test files not found at {EMNIST_DIR}")
    return {s: load_dataset("emnist", s, data_dir=SHARED) for s in ("train", "test")}


@needs_emnist
def test_emnist_standin_shapes_and_labels(emnist):
    train, test = emnist["train"], emnist["test"]
    _check_image_dataset(train, EMNIST_STANDIN_TRAIN_SIZE, 47)
    _check_image_dataset(test, 116323 - EMNIST_STANDIN_TRAIN_SIZE, 47)
    for ds in (train, test):
        assert ds.name == "emnist"
        assert ds.checksum_verified
        assert "STAND-IN" in ds.source
        assert "ByMerge test" in ds.source
        assert set(np.unique(ds.labels)) == set(range(47))
    assert "[0, 100000)" in train.source
    assert "[100000, 116323)" in test.source


@needs_emnist
@needs_mnist
def test_emnist_images_are_upright(emnist):
    """EMNIST digits (labels 0-9) must look like MNIST digits, not their transposes."""
    mnist = load_dataset("mnist", "test", data_dir=MNIST_DIR)
    em = emnist["test"]
    upright, transposed = [], []
    for digit in range(10):
        a = em.images[em.labels == digit].mean(0).ravel()
        b = mnist.images[mnist.labels == digit].mean(0)
        upright.append(np.corrcoef(a, b.ravel())[0, 1])
        transposed.append(np.corrcoef(a, b.T.ravel())[0, 1])
    assert (np.array(upright) > np.array(transposed)).all()
    assert np.mean(upright) > 0.7
    assert np.mean(upright) > np.mean(transposed) + 0.3
    # a "1" is a vertical stroke: its ink is concentrated in few columns
    one = em.images[em.labels == 1].mean(0)
    assert one.sum(0).std() > 2 * one.sum(1).std()


def test_not_found_error_says_how_to_get_the_data(monkeypatch):
    monkeypatch.setitem(SYSTEM_DATA_DIRS, "fashion_mnist", ())
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # import fails
    for name in ("mnist", "fashion_mnist", "emnist"):
        with pytest.raises(FileNotFoundError) as err:
            load_dataset(name, "train")
        msg = str(err.value)
        assert 'pip install "snnjax[tfds]"' in msg
        assert "--data-dir" in msg
        assert "SNNJAX_DATA_DIR" in msg
        assert "not installed" in msg
    with pytest.raises(FileNotFoundError, match="pip install"):
        load_dataset("mnist", "test", source="tfds")


def test_tfds_adapter(monkeypatch):
    calls = []
    raw = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28, 1) % 251

    def fake_load(name, **kwargs):
        calls.append((name, kwargs))
        return raw, np.array([4, 46 if name.startswith("emnist") else 9, 0])

    fake = types.SimpleNamespace(load=fake_load, as_numpy=lambda x: x)
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    ds = load_dataset("emnist", "test")
    assert calls == [
        ("emnist/balanced", {"split": "test", "batch_size": -1, "as_supervised": True})
    ]
    assert ds.source == "tfds:emnist/balanced"
    assert not ds.checksum_verified
    assert np.array_equal(ds.images, raw[..., 0].transpose(0, 2, 1))  # upright
    assert ds.labels.dtype == np.int64
    ds = load_dataset("mnist", "train", source="tfds")
    assert calls[-1][0] == "mnist"
    assert np.array_equal(ds.images, raw[..., 0])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("cifar10", "train"), "mnist, fashion_mnist, emnist"),
        (("mnist", "validation"), "train_validation_split"),
        (("mnist", "train", "web"), "source"),
    ],
)
def test_load_dataset_bad_arguments(args, match):
    name, split, *source = args
    kwargs = {"source": source[0]} if source else {}
    with pytest.raises(ValueError, match=match):
        load_dataset(name, split, **kwargs)


def test_train_validation_split():
    rng = np.random.default_rng(1)
    ds = ImageDataset(
        images=rng.integers(0, 256, (100, 28, 28), dtype=np.uint8),
        labels=np.arange(100, dtype=np.int64),
        num_classes=100,
        name="mnist",
        split="train",
        source="test",
        checksum_verified=False,
    )
    fit, val = train_validation_split(ds, 20, seed=3)
    assert len(fit) == 80
    assert len(val) == 20
    assert np.array_equal(np.sort(np.concatenate([fit.labels, val.labels])), np.arange(100))
    assert (np.diff(fit.labels) > 0).all()  # original order kept
    assert np.array_equal(fit.images, ds.images[fit.labels])
    assert val.split.startswith("train:validation")
    assert "seed=3" in val.split
    _fit2, val2 = train_validation_split(ds, 20, seed=3)
    assert np.array_equal(val.labels, val2.labels)
    _, val3 = train_validation_split(ds, 20, seed=4)
    assert not np.array_equal(val.labels, val3.labels)
    (x_fit, _y_fit), (_x_val, y_val) = train_validation_split((ds.images, ds.labels), 20, seed=3)
    assert np.array_equal(y_val, val.labels)
    assert np.array_equal(x_fit, fit.images)
    with pytest.raises(ValueError, match=r"n_validation must be in \[0, 100\)"):
        train_validation_split(ds, 100, seed=0)


# ----------------------------------------------------------------------------- batching


def test_batches_deterministic_per_seed_and_epoch():
    a = list(batches(103, 10, seed=5, epoch=2))
    b = list(batches(103, 10, seed=5, epoch=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c = list(batches(103, 10, seed=5, epoch=3))
    d = list(batches(103, 10, seed=6, epoch=2))
    assert not np.array_equal(np.concatenate(a), np.concatenate(c))
    assert not np.array_equal(np.concatenate(a), np.concatenate(d))
    expected = np.random.default_rng([5, 2]).permutation(103)
    assert np.array_equal(np.concatenate(a), expected[:100])


def test_batches_coverage_and_shapes():
    full = list(batches(103, 10, seed=0, epoch=0, drop_last=False))
    assert [len(x) for x in full] == [10] * 10 + [3]
    assert np.array_equal(np.sort(np.concatenate(full)), np.arange(103))
    assert all(x.dtype == np.int64 for x in full)
    dropped = list(batches(103, 10, seed=0, epoch=0))
    assert len(dropped) == num_batches(103, 10) == 10
    assert num_batches(103, 10, drop_last=False) == 11
    ordered = list(batches(5, 2, shuffle=False, drop_last=False))
    assert [x.tolist() for x in ordered] == [[0, 1], [2, 3], [4]]
    assert list(batches(3, 5, seed=0)) == []
    with pytest.raises(ValueError, match="seed"):
        next(batches(10, 2))
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        num_batches(10, 0)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 300),
    batch_size=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    epoch=st.integers(0, 1000),
    drop_last=st.booleans(),
)
def test_batches_property(n, batch_size, seed, epoch, drop_last):
    out = list(batches(n, batch_size, seed=seed, epoch=epoch, drop_last=drop_last))
    assert len(out) == num_batches(n, batch_size, drop_last=drop_last)
    flat = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    assert len(np.unique(flat)) == len(flat)
    assert ((flat >= 0) & (flat < n)).all()
    assert len(flat) == (n - n % batch_size if drop_last else n)


# ----------------------------------------------------------------------------- imports


def test_import_pulls_in_no_tensorflow():
    code = (
        "import sys, snnjax.data; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'tensorflow_datasets')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------- dataset registry


def test_registry_lists_the_datasets_and_feeds_the_old_tables():
    assert dataset_names() == ("yinyang", "mnist", "fashion_mnist", "emnist")
    assert dataset_names("idx") == ("mnist", "fashion_mnist", "emnist")
    from snnjax.data import DATASET_NAMES, KNOWN_IDX_MD5

    assert dataset_names("idx") == DATASET_NAMES
    for name in DATASET_NAMES:
        spec = get_dataset(name)
        assert SYSTEM_DATA_DIRS[name] == spec.system_dirs
        assert KNOWN_IDX_MD5[name] == dict(spec.md5)
    assert get_dataset("emnist").standin.train_size == EMNIST_STANDIN_TRAIN_SIZE
    assert get_dataset("Fashion-MNIST") is get_dataset("fashion_mnist")
    assert get_dataset("emnist/balanced").n_classes == 47
    yy = get_dataset("yinyang")
    assert yy.kind == "generated"
    assert not yy.is_image
    assert yy.input_shape == (5,)
    assert get_dataset("mnist").network_input_shape("conv") == (28, 28, 1)
    assert get_dataset("mnist").network_input_shape("dense") == (784,)
    with pytest.raises(ValueError, match="no image"):
        yy.network_input_shape("conv")


def test_unknown_dataset_is_a_clear_error_everywhere():
    from snnjax.configs import ConfigError, get_config

    with pytest.raises(
        ValueError, match="registered datasets: yinyang, mnist, fashion_mnist, emnist"
    ):
        get_dataset("cifar10")
    with pytest.raises(ConfigError, match=r"dataset must be one of \('yinyang', 'mnist'"):
        get_config("yinyang_multispike", ["dataset=cifar10"])
    with pytest.raises(ValueError, match="mnist, fashion_mnist, emnist"):
        load_dataset("cifar10", "train")
    with pytest.raises(ValueError, match="Yin-Yang is generated"):
        load_dataset("yinyang", "train")
    with pytest.raises(ConfigError, match="Yin-Yang dataset has no image"):
        get_config("mnist_conv", ["dataset=yinyang"])


def test_dataset_spec_is_checked():
    with pytest.raises(ValueError, match="flattened image_shape"):
        DatasetSpec(name="x", title="X", n_classes=2, input_shape=(10,), image_shape=(3, 3))
    with pytest.raises(ValueError, match="kind"):
        DatasetSpec(name="x", title="X", n_classes=2, input_shape=(1,), kind="web")
    with pytest.raises(ValueError, match="already registered"):
        data_registry.register_dataset(get_dataset("mnist"))
    with pytest.raises(ValueError, match="alias is taken"):
        data_registry.register_dataset(
            DatasetSpec(
                name="fmnist", title="F", n_classes=10, input_shape=(1,), aliases=("fashion-mnist",)
            )
        )


def _check_against_spec(name: str, split: str, x: np.ndarray, y: np.ndarray) -> None:
    spec = get_dataset(name)
    assert y.ndim == 1
    assert len(x) == len(y) > 0
    assert y.min() >= 0
    assert y.max() < spec.n_classes
    if spec.is_image:
        assert x.shape[1:] == spec.image_shape
        assert int(np.prod(x.shape[1:])) == spec.input_shape[0]


@pytest.mark.parametrize("name", dataset_names())
def test_every_spec_matches_what_the_loader_returns(name):
    """Shapes and classes of each registered dataset on the shared data (skip if absent)."""
    from snnjax.configs import ExperimentConfig
    from snnjax.train import prepare_data

    spec = get_dataset(name)
    if spec.kind == "generated":
        x, y = yinyang("test")
        _check_against_spec(name, "test", x, y)
        assert set(np.unique(y)) == set(range(spec.n_classes))
        data = prepare_data(
            ExperimentConfig(dataset=name, sizes=(5, 8, 3), n_validation=10, train_subset=20)
        )
        assert data.input_shape == spec.input_shape == data.test.times.shape[1:-1]
        assert data.num_classes == spec.n_classes
        return
    try:
        splits = {s: load_dataset(name, s, data_dir=SHARED, source="idx") for s in spec.splits}
    except FileNotFoundError:
        pytest.skip(f"{spec.title} not found in {SHARED} (nor in the system directories)")
    for split, ds in splits.items():
        _check_against_spec(name, split, ds.images, ds.labels)
        assert ds.num_classes == spec.n_classes
        assert ds.name == spec.name
    assert set(np.unique(splits["test"].labels)) == set(range(spec.n_classes))
    for architecture in ("dense", "conv"):
        cfg = ExperimentConfig(
            dataset=name,
            architecture=architecture,
            sizes=(spec.input_shape[0], 8, spec.n_classes)
            if architecture == "dense"
            else (8, spec.n_classes),
            conv_features=() if architecture == "dense" else (2,),
            thetas=(1.0, 1.0) if architecture == "dense" else (1.0, 1.0, 1.0),
            max_spikes=(1, 1) if architecture == "dense" else (1, 1, 1),
            init=(("uniform", 0.0, 1.0),),
            n_validation=10,
            train_subset=20,
            test_subset=20,
        )
        data = prepare_data(cfg, SHARED)
        want = spec.network_input_shape(architecture)
        assert data.input_shape == want == data.train.times.shape[1:-1]
        assert data.num_classes == spec.n_classes


def test_a_new_idx_dataset_is_one_registration(tmp_path, monkeypatch, caplog):
    """An IDX image dataset registered at run time loads through load_dataset unchanged."""
    spec = DatasetSpec(
        name="tiny_digits",
        title="Tiny digits",
        n_classes=10,
        input_shape=(784,),
        image_shape=(28, 28),
        idx_files={
            "train": data_registry.IdxFiles(
                "tiny-train-images-idx3-ubyte", "tiny-train-labels-idx1-ubyte"
            ),
            "test": data_registry.IdxFiles(
                "tiny-test-images-idx3-ubyte", "tiny-test-labels-idx1-ubyte"
            ),
        },
        subdirs=("tiny",),
        download_hint="tiny-*-ubyte.gz (made up for a test)",
    )
    monkeypatch.setitem(data_registry._REGISTRY, spec.name, spec)  # removed after the test
    images, labels = _write_mnist_like(tmp_path / "tiny", "tiny-test", 5, gz=True)
    with caplog.at_level("WARNING", logger="snnjax.data.images"):
        ds = load_dataset("tiny_digits", "test", data_dir=tmp_path)
    assert np.array_equal(ds.images, images)
    assert np.array_equal(ds.labels, labels)
    assert ds.source == f"idx:{tmp_path / 'tiny'}"
    assert not ds.checksum_verified
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(FileNotFoundError, match="Tiny digits"):
        load_dataset("tiny_digits", "train", data_dir=tmp_path)


# ------------------------------------------------ issue 13: damaged .gz files


def _damage(raw: bytes, how: str) -> bytes:
    b = bytearray(raw)
    if how == "truncated":
        return bytes(b[: len(b) // 2])
    if how == "flipped":  # bytes inside the deflate stream
        for i in range(len(b) // 3, len(b) // 3 + 8):
            b[i] ^= 0xFF
        return bytes(b)
    if how == "bad-crc":
        b[-6] ^= 0x01  # the CRC-32 of the trailer
        return bytes(b)
    if how == "bad-length":
        b[-2] ^= 0x01  # the ISIZE of the trailer
        return bytes(b)
    raise AssertionError(how)


DAMAGES = ["truncated", "flipped", "bad-crc", "bad-length"]


@needs_mnist
@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_known_gz_names_file_and_checksums(tmp_path, how):
    good = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    bad = _damage(good, how)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(bad)
    with pytest.raises(ChecksumError) as err:
        load_idx(path, dataset="mnist")
    msg = str(err.value)
    assert str(path) in msg
    assert "ec29112dd5afa0611ce80d1b7f02629c" in msg  # the known .gz
    assert "27ae3e4e09519cfbb04c329615203637" in msg  # its known contents
    assert hashlib.md5(bad).hexdigest() in msg  # the actual file
    assert "storage.googleapis.com/cvdf-datasets/mnist" in msg
    assert "tensorflow-datasets" in msg


@needs_mnist
@pytest.mark.parametrize("how", DAMAGES)
def test_load_dataset_with_damaged_gz_is_a_checksum_error(tmp_path, how):
    directory = tmp_path / "mnist"
    directory.mkdir()
    (directory / "t10k-images-idx3-ubyte.gz").symlink_to(MNIST_DIR / "t10k-images-idx3-ubyte.gz")
    good = (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(_damage(good, how))
    with pytest.raises(ChecksumError, match=r"t10k-labels-idx1-ubyte\.gz: the file is damaged"):
        load_dataset("mnist", "test", data_dir=tmp_path)


@pytest.mark.parametrize("how", DAMAGES)
def test_damaged_unknown_gz_names_the_file(tmp_path, how):
    payload = _idx_bytes(np.arange(4000, dtype=np.uint8).reshape(10, 20, 20) % 7)
    path = tmp_path / "my-images-idx3-ubyte.gz"
    path.write_bytes(_damage(gzip.compress(payload), how))
    with pytest.raises(ValueError, match="gzip file is damaged") as err:
        load_idx(path)
    assert not isinstance(err.value, ChecksumError)
    assert str(path) in str(err.value)
    assert "no known checksum" in str(err.value)


def test_damaged_fashion_gz_says_how_to_get_a_good_copy(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(_damage(gzip.compress(_idx_bytes(np.zeros(9, np.uint8))), "truncated"))
    with pytest.raises(ChecksumError) as err:
        load_idx(path, dataset="fashion_mnist")
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "bb300cfdad3c16e7a12a480ee83cd310" in msg  # upstream .gz
    assert "0d30e22e447f3c33dab9ed536400ac01" in msg  # Debian's re-pack
    assert "15d484375f8d13e6eb1aabb0c3f46965" in msg  # the contents
    # without a dataset, the name is known but the checksum is not: say how to check it
    with pytest.raises(ValueError, match=r"pass dataset=\.\.\."):
        load_idx(path)


@needs_mnist
def test_repacked_known_gz_still_verifies_by_contents(tmp_path):
    payload = gzip.decompress((MNIST_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes())
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(payload, mtime=0))  # another header: an unknown .gz md5
    f = load_idx(path, dataset="mnist")
    assert f.verified
    assert f.data.shape == (10000,)


def test_every_registered_gz_md5_is_hex():
    for spec in data_registry.registered_datasets().values():
        for name, md5s in spec.gz_md5.items():
            assert name in spec.md5
            assert all(len(m) == 32 and int(m, 16) >= 0 for m in md5s)
