"""MNIST, Fashion-MNIST and EMNIST (Balanced, 47 classes) as NumPy arrays.

:func:`load_dataset` finds the data itself, in this order (``source="auto"``):

1. ``data_dir``, when given;
2. the directory in the environment variable ``SNNJAX_DATA_DIR``;
3. system directories: the Debian package ``dataset-fashion-mnist`` installs
   Fashion-MNIST into ``/usr/share/datasets/fashion-mnist/``;
4. tensorflow-datasets (``pip install "snnjax[tfds]"``), only if it is importable.

The first place that has the files wins (so one ``--data-dir`` can serve several
datasets even if only some of them live there); :attr:`ImageDataset.source` records
which copy was used. A file that is present but fails its checksum is an error, never
skipped over.

A directory may hold the original IDX files directly, or one subdirectory per dataset
(``mnist/``, ``fashion-mnist/``, ``emnist/``; torchvision's ``MNIST/raw/`` layout works
too). Files may be gzip-compressed or not. Every known file is checked against the md5
of its decompressed payload (:mod:`snnjax.data.idx`).

EMNIST: the original ``emnist-balanced-{train,test}-*-ubyte[.gz]`` files are used when
present. Otherwise, if only the EMNIST **ByMerge test** split is there (116,323 real
EMNIST samples over the same 47 classes and label mapping as Balanced, but unbalanced),
it serves as an offline stand-in: its first 100,000 samples are ``"train"`` and the
remaining 16,323 are ``"test"``; :attr:`ImageDataset.source` says so, and so should any
figure made with it. EMNIST images are stored transposed in every distribution; they
are returned upright.

What is known about each dataset (names and aliases, classes, image shape, file names
and md5, subdirectories, system directories, tensorflow-datasets name, stand-in) is its
:class:`snnjax.data.registry.DatasetSpec`; this module only knows how to search and read.

No TensorFlow import happens unless tensorflow-datasets is actually used.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from collections.abc import Sequence

import numpy as np

from snnjax.data.idx import IdxFile, load_idx
from snnjax.data.registry import DatasetSpec, dataset_names, get_dataset

__all__ = [
    "DATASET_NAMES",
    "EMNIST_STANDIN_TRAIN_SIZE",
    "SYSTEM_DATA_DIRS",
    "ImageDataset",
    "load_dataset",
    "train_validation_split",
]

logger = logging.getLogger(__name__)

#: Environment variable naming a data directory.
DATA_DIR_ENV = "SNNJAX_DATA_DIR"

#: Canonical names of the image datasets accepted by :func:`load_dataset` (those of the
#: registry, :mod:`snnjax.data.registry`, with ``kind="idx"``, at import time).
DATASET_NAMES: tuple[str, ...] = dataset_names("idx")

#: Number of ByMerge-test samples used as "train" when EMNIST Balanced is absent.
EMNIST_STANDIN_TRAIN_SIZE = get_dataset("emnist").standin.train_size

#: Well-known system locations per dataset (searched after ``SNNJAX_DATA_DIR``), from the
#: registry (:attr:`DatasetSpec.system_dirs`); edit this dict to change them at run time.
SYSTEM_DATA_DIRS: dict[str, tuple[str, ...]] = {
    name: get_dataset(name).system_dirs for name in DATASET_NAMES
}

_SPLITS = ("train", "test")


@dataclasses.dataclass(frozen=True, eq=False)
class ImageDataset:
    """An image-classification split held in memory.

    Attributes:
        images: ``[N, 28, 28]`` uint8 pixels (0-255), upright.
        labels: ``[N]`` int64 class indices in ``[0, num_classes)``.
        num_classes: 10 (MNIST, Fashion-MNIST) or 47 (EMNIST Balanced).
        name: canonical dataset name (``"mnist"``, ``"fashion_mnist"``, ``"emnist"``).
        split: ``"train"`` or ``"test"`` (or a part made by
            :func:`train_validation_split`).
        source: where the arrays came from, e.g. ``"idx:/path/to/dir"`` or
            ``"tfds:emnist/balanced"``; for the EMNIST stand-in it names the ByMerge
            test split and the sample range used.
        checksum_verified: True iff snnjax checked every file against a known md5.
        files: ``(absolute path, md5 of the decompressed payload)`` of each file read
            (empty for tensorflow-datasets): what a run records to find and check its
            data again (:func:`snnjax.train.evaluate_run`).
    """

    images: np.ndarray
    labels: np.ndarray
    num_classes: int
    name: str
    split: str
    source: str
    checksum_verified: bool
    files: tuple[tuple[str, str], ...] = ()

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        return (
            f"ImageDataset(name={self.name!r}, split={self.split!r}, n={len(self)}, "
            f"num_classes={self.num_classes}, source={self.source!r}, "
            f"checksum_verified={self.checksum_verified})"
        )


def _image_spec(name: str) -> DatasetSpec:
    """The registry's spec of an image dataset; ``ValueError`` for any other name."""
    try:
        spec = get_dataset(name)
    except ValueError:
        raise ValueError(
            f"unknown dataset {name!r}; valid names: {', '.join(dataset_names('idx'))}"
        ) from None
    if spec.kind != "idx":
        raise ValueError(
            f"{spec.title} is {spec.kind}, not loaded from files (valid names: "
            f"{', '.join(dataset_names('idx'))}); see snnjax.data"
        )
    return spec


def _find_file(directory: str, canonical: str) -> str | None:
    """Finds ``canonical`` (e.g. ``train-images-idx3-ubyte``) in any usual spelling."""
    dotted = canonical.replace("-idx", ".idx")
    for candidate in (canonical + ".gz", canonical, dotted + ".gz", dotted):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def _find_pair(directory: str, images: str, labels: str) -> tuple[str, str] | None:
    img = _find_file(directory, images)
    lab = _find_file(directory, labels)
    return (img, lab) if img is not None and lab is not None else None


def _candidate_dirs(root: str, spec: DatasetSpec) -> list[str]:
    dirs = [os.path.join(root, sub) for sub in spec.subdirs]
    dirs.append(root)
    return [d for d in dirs if os.path.isdir(d)]


def _read_pair(
    spec: DatasetSpec, img_path: str, lab_path: str
) -> tuple[np.ndarray, np.ndarray, bool, tuple[tuple[str, str], ...]]:
    img: IdxFile = load_idx(img_path, dataset=spec.name)
    lab: IdxFile = load_idx(lab_path, dataset=spec.name)
    shape = tuple(spec.image_shape)
    if img.data.ndim != 1 + len(shape) or img.data.shape[1:] != shape:
        raise ValueError(
            f"{img_path}: expected [N, {', '.join(map(str, shape))}] images, got {img.data.shape}"
        )
    if lab.data.ndim != 1 or lab.data.shape[0] != img.data.shape[0]:
        raise ValueError(
            f"{lab_path}: {lab.data.shape} labels do not match {img.data.shape[0]} images"
        )
    verified = img.verified and lab.verified
    if not verified:
        logger.warning(
            "%s / %s: no known md5, loaded WITHOUT checksum verification", img_path, lab_path
        )
    files = tuple((os.path.abspath(f.path), f.md5) for f in (img, lab))
    return img.data.astype(np.uint8, copy=False), lab.data.astype(np.int64), verified, files


def _load_standin(
    spec: DatasetSpec, split: str, directory: str
) -> tuple[np.ndarray, np.ndarray, bool, tuple[tuple[str, str], ...], str] | None:
    """The stand-in's part for ``split`` from ``directory``; None if its files are absent."""
    standin = spec.standin
    found = _find_pair(directory, standin.files.images, standin.files.labels)
    if found is None:
        return None
    if any(f.startswith(standin.not_with) for f in os.listdir(directory)):
        # Never mix the dataset's own files with the stand-in (they overlap).
        raise FileNotFoundError(
            f"{directory} has {spec.title} files but not the {split!r} split; add the missing "
            f"{standin.not_with}* files (or remove them all to use the stand-in, the "
            f"{standin.description})"
        )
    images, labels, verified, files = _read_pair(spec, *found)
    n = standin.train_size
    if images.shape[0] <= n:
        raise ValueError(
            f"{found[0]}: {standin.description} has {images.shape[0]} samples, expected "
            f"more than {n}"
        )
    lo, hi = (0, n) if split == "train" else (n, images.shape[0])
    source = (
        f"idx:{directory} (STAND-IN for {spec.title}: {standin.description}, "
        f"samples [{lo}, {hi}) as {split!r})"
    )
    return images[lo:hi], labels[lo:hi], verified, files, source


def _load_from_dir(spec: DatasetSpec, split: str, root: str) -> ImageDataset | None:
    """Loads ``spec``/``split`` from IDX files under ``root``; None if absent."""
    for directory in _candidate_dirs(root, spec):
        files = spec.idx_files[split]
        found = _find_pair(directory, files.images, files.labels)
        if found is not None:
            images, labels, verified, files = _read_pair(spec, *found)
            source = f"idx:{directory}"
        else:
            loaded = None if spec.standin is None else _load_standin(spec, split, directory)
            if loaded is None:
                continue
            images, labels, verified, files, source = loaded
        if spec.transposed:  # e.g. EMNIST IDX files store every image transposed
            images = np.ascontiguousarray(np.transpose(images, (0, 2, 1)))
        return _checked(images, labels, spec, split, source, verified, files)
    return None


def _checked(
    images: np.ndarray,
    labels: np.ndarray,
    spec: DatasetSpec,
    split: str,
    source: str,
    verified: bool,
    files: tuple[tuple[str, str], ...] = (),
) -> ImageDataset:
    num_classes = spec.n_classes
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{source}: labels span [{labels.min()}, {labels.max()}], "
            f"expected [0, {num_classes - 1}] for {spec.name}"
        )
    return ImageDataset(
        images=images,
        labels=labels,
        num_classes=num_classes,
        name=spec.name,
        split=split,
        source=source,
        checksum_verified=verified,
        files=files,
    )


def _load_tfds(spec: DatasetSpec, split: str) -> ImageDataset:
    tfds = importlib.import_module("tensorflow_datasets")
    tfds_name = spec.tfds_name
    images, labels = tfds.as_numpy(
        tfds.load(tfds_name, split=split, batch_size=-1, as_supervised=True)
    )
    images = np.asarray(images, dtype=np.uint8).reshape(-1, *spec.image_shape)
    if spec.transposed:  # tfds keeps EMNIST's transposed storage
        images = np.ascontiguousarray(np.transpose(images, (0, 2, 1)))
    labels = np.asarray(labels, dtype=np.int64)
    # tfds checks its own downloads; snnjax has not verified these bytes itself.
    return _checked(images, labels, spec, split, f"tfds:{tfds_name}", False)


def _tfds_available() -> bool:
    try:
        importlib.import_module("tensorflow_datasets")
    except ImportError:
        return False
    return True


def _not_found_message(spec: DatasetSpec, split: str, looked: Sequence[str], tfds_note: str) -> str:
    pretty = spec.title
    subdir = spec.subdirs[0] if spec.subdirs else spec.name
    lines = [f"could not find {pretty} ({split!r} split). Looked in:"]
    lines += [f"  - {entry}" for entry in looked]
    lines.append(f"  - tensorflow-datasets: {tfds_note}")
    lines += [
        "To get the data, either",
        '  * pip install "snnjax[tfds]"   (tensorflow-datasets downloads and caches it), or',
        f"  * download the original IDX files {spec.download_hint}",
        f"    into a directory, e.g. ~/data/{subdir}/, and pass --data-dir ~/data "
        f"(data_dir=... in Python) or set {DATA_DIR_ENV}=~/data.",
    ]
    return "\n".join(lines)


def load_dataset(
    name: str,
    split: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    source: str = "auto",
) -> ImageDataset:
    """Loads MNIST, Fashion-MNIST or EMNIST Balanced into memory.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` (or ``"fashion-mnist"``) or ``"emnist"``
            (EMNIST Balanced, 47 classes).
        split: ``"train"`` or ``"test"``. For a validation set, split the training set
            with :func:`train_validation_split`.
        data_dir: a directory holding the IDX files, directly or in a per-dataset
            subdirectory (``mnist/``, ``fashion-mnist/``, ``emnist/``); searched first.
        source: ``"auto"`` (IDX directories, then tensorflow-datasets), ``"idx"``
            (IDX directories only) or ``"tfds"`` (tensorflow-datasets only).

    Returns:
        An :class:`ImageDataset` with ``[N, 28, 28]`` uint8 upright images and ``[N]``
        int64 labels; ``source`` and ``checksum_verified`` record where the data came
        from and whether its md5 was checked.

    Raises:
        ValueError: unknown name, split or source.
        FileNotFoundError: the data is nowhere to be found; the message lists the places
            searched and how to get the data.
        snnjax.data.ChecksumError: a file's md5 does not match the known one.

    Example:
        >>> ds = load_dataset("mnist", "test", data_dir="~/data")  # doctest: +SKIP
        >>> ds.images.shape, ds.labels.dtype  # doctest: +SKIP
        ((10000, 28, 28), dtype('int64'))
    """
    spec = _image_spec(name)
    if split not in _SPLITS:
        raise ValueError(
            f"unknown split {split!r}; valid splits: {', '.join(_SPLITS)} "
            "(use train_validation_split for a validation set)"
        )
    if source not in ("auto", "idx", "tfds"):
        raise ValueError(f"unknown source {source!r}; valid: 'auto', 'idx', 'tfds'")

    looked: list[str] = []
    if source in ("auto", "idx"):
        roots: list[tuple[str, str]] = []
        if data_dir is not None:
            roots.append((os.path.expanduser(os.fspath(data_dir)), "data_dir"))
        env = os.environ.get(DATA_DIR_ENV)
        if env:
            roots.append((os.path.expanduser(env), f"${DATA_DIR_ENV}"))
        else:
            looked.append(f"${DATA_DIR_ENV} (not set)")
        system = SYSTEM_DATA_DIRS.get(spec.name, spec.system_dirs)
        roots += [(d, "system directory") for d in system]
        for root, what in roots:
            dataset = _load_from_dir(spec, split, root)
            if dataset is not None:
                if looked:
                    logger.info("%s %s: not in %s", spec.name, split, "; ".join(looked))
                return dataset
            subdirs = ", ".join(f"{s}/" for s in spec.subdirs)
            looked.append(f"{what} {root} (and its subdirectories {subdirs})")
        if source == "idx":
            raise FileNotFoundError(
                _not_found_message(spec, split, looked, "not tried (source='idx')")
            )

    if spec.tfds_name is None:
        raise FileNotFoundError(_not_found_message(spec, split, looked, f"has no {spec.title}"))
    if _tfds_available():
        return _load_tfds(spec, split)
    raise FileNotFoundError(
        _not_found_message(spec, split, looked, "not installed (import tensorflow_datasets failed)")
    )


def train_validation_split(
    dataset: ImageDataset | tuple[np.ndarray, np.ndarray], n_validation: int, seed: int
) -> (
    tuple[ImageDataset, ImageDataset]
    | tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
):
    """Deterministically holds out ``n_validation`` random samples.

    The held-out indices are the first ``n_validation`` entries of
    ``np.random.default_rng(seed).permutation(N)``; both parts keep the original
    sample order.

    Args:
        dataset: an :class:`ImageDataset`, or a tuple ``(inputs [N, ...], labels [N])``.
        n_validation: number of validation samples, ``0 <= n_validation < N``.
        seed: non-negative integer seed.

    Returns:
        ``(fit, validation)`` of the same kind as ``dataset``. For an
        :class:`ImageDataset`, the parts' ``split`` reads e.g.
        ``"train:fit(n_validation=5000, seed=0)"`` and
        ``"train:validation(n_validation=5000, seed=0)"``.

    Raises:
        ValueError: ``n_validation`` out of range, or inputs and labels differ in length.
    """
    if isinstance(dataset, ImageDataset):
        arrays = (dataset.images, dataset.labels)
    else:
        arrays = tuple(dataset)
        if len(arrays) != 2 or len(arrays[0]) != len(arrays[1]):
            raise ValueError("dataset must be an ImageDataset or (inputs [N, ...], labels [N])")
    n = len(arrays[1])
    n_validation = int(n_validation)
    if not 0 <= n_validation < n:
        raise ValueError(f"n_validation must be in [0, {n}), got {n_validation}")
    perm = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(perm[:n_validation])
    fit_idx = np.sort(perm[n_validation:])
    if not isinstance(dataset, ImageDataset):
        x, y = arrays
        return (x[fit_idx], y[fit_idx]), (x[val_idx], y[val_idx])
    tag = f"(n_validation={n_validation}, seed={seed})"
    fit = dataclasses.replace(
        dataset,
        images=dataset.images[fit_idx],
        labels=dataset.labels[fit_idx],
        split=f"{dataset.split}:fit{tag}",
    )
    val = dataclasses.replace(
        dataset,
        images=dataset.images[val_idx],
        labels=dataset.labels[val_idx],
        split=f"{dataset.split}:validation{tag}",
    )
    return fit, val
