"""The dataset registry: one :class:`DatasetSpec` per dataset snnjax knows.

A spec says everything the rest of the library needs about a dataset: its name and
aliases, number of classes, per-sample input shape (and image shape, for image datasets),
and where the data comes from — generated in code (Yin-Yang), or IDX files (names, md5 of
the decompressed payloads, usual subdirectories, system directories), tensorflow-datasets,
and stand-ins (the EMNIST ByMerge test split for EMNIST Balanced). The image loader
(:func:`snnjax.data.load_dataset`), the IDX checksums (:data:`snnjax.data.KNOWN_IDX_MD5`),
config validation (:mod:`snnjax.configs`) and the training pipeline
(:mod:`snnjax.train`) all read it; an unknown name is a ``ValueError`` that lists the
registered names.

Adding an IDX image dataset is one :func:`register_dataset` call (``docs/extending.md``).
This module imports nothing but the standard library.

Example:
  >>> from snnjax.data.registry import get_dataset
  >>> spec = get_dataset("fashion-mnist")
  >>> spec.name, spec.n_classes, spec.input_shape, spec.network_input_shape("conv")
  ('fashion_mnist', 10, (784,), (28, 28, 1))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "DatasetSpec",
    "IdxFiles",
    "StandIn",
    "dataset_names",
    "get_dataset",
    "register_dataset",
    "registered_datasets",
]


@dataclasses.dataclass(frozen=True)
class IdxFiles:
    """The two IDX files of one split, by canonical name (no ``.gz``, ``-idx`` spelling).

    Attributes:
      images: e.g. ``"train-images-idx3-ubyte"`` (``[N, *image_shape]`` uint8).
      labels: e.g. ``"train-labels-idx1-ubyte"`` (``[N]`` uint8).
    """

    images: str
    labels: str


@dataclasses.dataclass(frozen=True)
class StandIn:
    """A substitute used offline when a dataset's own files are absent.

    The stand-in's one split is cut in two: samples ``[0, train_size)`` are ``"train"``,
    the rest ``"test"``; the loaded data's ``source`` says so.

    Attributes:
      files: the stand-in's IDX files.
      train_size: number of its samples used as ``"train"``.
      description: what it is, e.g. ``"EMNIST ByMerge test split"``.
      not_with: file-name prefix of the dataset's own files; a directory holding any such
        file never falls back to the stand-in (the two would overlap).
    """

    files: IdxFiles
    train_size: int
    description: str
    not_with: str


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything snnjax needs to know about one dataset.

    Attributes:
      name: canonical name (the value of :attr:`snnjax.configs.ExperimentConfig.dataset`).
      title: human name, e.g. ``"Fashion-MNIST"``.
      n_classes: number of classes (labels ``0 .. n_classes - 1``).
      input_shape: per-sample input neurons of a dense network after encoding, e.g.
        ``(784,)`` (one latency-coded spike per pixel) or ``(5,)`` (Yin-Yang: 4 features
        and a bias spike).
      image_shape: ``(H, W)`` of image datasets (``None`` otherwise); a convolutional
        network takes ``(H, W, 1)`` (:meth:`network_input_shape`).
      kind: ``"generated"`` (made in code, no files) or ``"idx"`` (IDX image files or
        tensorflow-datasets).
      splits: the splits the source provides.
      aliases: other accepted spellings (lower case) of ``name``.
      idx_files: split -> :class:`IdxFiles` of the original distribution.
      md5: canonical IDX file name -> md5 of its decompressed payload (files not listed
        load unverified, with a warning).
      gz_md5: canonical IDX file name -> md5s of known ``.gz`` copies of it (upstream's,
        a distribution's re-pack); a ``.gz`` file is checked against them before it is
        decompressed (a re-pack not listed is decompressed and checked by :attr:`md5`).
      subdirs: usual subdirectories of a data directory holding the files (searched
        before the directory itself).
      system_dirs: system locations searched after ``$SNNJAX_DATA_DIR``.
      tfds_name: tensorflow-datasets name, or ``None``.
      transposed: the IDX/tfds images are stored transposed (EMNIST); returned upright.
      standin: offline substitute when the dataset's own files are absent, or ``None``.
      download_hint: which files to get and where from (shown when data is missing).
      notes: anything else a user must know (label mapping, provenance).
    """

    name: str
    title: str
    n_classes: int
    input_shape: tuple[int, ...]
    image_shape: tuple[int, ...] | None = None
    kind: str = "idx"
    splits: tuple[str, ...] = ("train", "test")
    aliases: tuple[str, ...] = ()
    idx_files: Mapping[str, IdxFiles] = dataclasses.field(default_factory=dict)
    md5: Mapping[str, str] = dataclasses.field(default_factory=dict)
    gz_md5: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    subdirs: tuple[str, ...] = ()
    system_dirs: tuple[str, ...] = ()
    tfds_name: str | None = None
    transposed: bool = False
    standin: StandIn | None = None
    download_hint: str = ""
    notes: str = ""

    def __post_init__(self):
        if self.kind not in ("generated", "idx"):
            raise ValueError(
                f"dataset {self.name!r}: kind must be 'generated' or 'idx', got {self.kind!r}"
            )
        if self.n_classes < 1:
            raise ValueError(f"dataset {self.name!r}: n_classes must be >= 1")
        if self.image_shape is not None and self.input_shape != (math.prod(self.image_shape),):
            raise ValueError(
                f"dataset {self.name!r}: input_shape {self.input_shape} is not "
                f"the flattened image_shape {self.image_shape}"
            )
        object.__setattr__(self, "idx_files", MappingProxyType(dict(self.idx_files)))
        object.__setattr__(self, "md5", MappingProxyType(dict(self.md5)))
        gz = {name: tuple(md5s) for name, md5s in self.gz_md5.items()}
        object.__setattr__(self, "gz_md5", MappingProxyType(gz))

    @property
    def is_image(self) -> bool:
        """True for image datasets (they have an :attr:`image_shape`)."""
        return self.image_shape is not None

    def network_input_shape(self, architecture: str = "dense") -> tuple[int, ...]:
        """Per-sample input shape of a network without the spike axis.

        Args:
          architecture: ``"dense"`` -> :attr:`input_shape`; ``"conv"`` -> ``(H, W, 1)``.

        Raises:
          ValueError: ``"conv"`` for a dataset without images, or an unknown architecture.
        """
        if architecture == "dense":
            return self.input_shape
        if architecture == "conv":
            if self.image_shape is None:
                raise ValueError(f"the {self.title} dataset has no image; use a dense network")
            return (*self.image_shape, 1)
        raise ValueError(f"architecture must be 'dense' or 'conv', got {architecture!r}")


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
    """Add ``spec`` to the registry and return it.

    Raises:
      TypeError: ``spec`` is not a :class:`DatasetSpec`.
      ValueError: its name or an alias is taken (``replace=True`` overwrites a spec of the
        same name).
    """
    if not isinstance(spec, DatasetSpec):
        raise TypeError(f"expected a snnjax.data.registry.DatasetSpec, got {type(spec).__name__}")
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"dataset {spec.name!r} is already registered")
    for other in _REGISTRY.values():
        if other.name != spec.name and {spec.name, *spec.aliases} & {other.name, *other.aliases}:
            raise ValueError(f"dataset {spec.name!r}: a name or alias is taken by {other.name!r}")
    _REGISTRY[spec.name] = spec
    return spec


def dataset_names(kind: str | None = None) -> tuple[str, ...]:
    """Canonical names of the registered datasets (of one ``kind`` if given), in order."""
    return tuple(n for n, s in _REGISTRY.items() if kind is None or s.kind == kind)


def registered_datasets() -> Mapping[str, DatasetSpec]:
    """Read-only view ``{name: DatasetSpec}`` of the registry."""
    return MappingProxyType(_REGISTRY)


def get_dataset(name: str) -> DatasetSpec:
    """The spec of ``name``: a canonical name or an alias, case-insensitive.

    Raises:
      ValueError: unknown name; the message lists the registered names.
    """
    key = name.lower() if isinstance(name, str) else name
    for spec in _REGISTRY.values():
        if key == spec.name or key in spec.aliases:
            return spec
    raise ValueError(f"unknown dataset {name!r}; registered datasets: {', '.join(_REGISTRY)}")


# ------------------------------------------------------------------ the datasets

_MNIST_FILES = {
    "train": IdxFiles("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": IdxFiles("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

register_dataset(
    DatasetSpec(
        name="yinyang",
        title="Yin-Yang",
        n_classes=3,
        input_shape=(5,),
        kind="generated",
        splits=("train", "validation", "test"),
        notes="generated in code (snnjax.data.yinyang), bit-exact with the published split of "
        "Kriener et al. 2021 (train 5000 / validation 1000 / test 1000, seeds 42 / 41 / "
        "40); inputs are the 4 features (x, y, 1 - x, 1 - y) and a bias spike",
    )
)

register_dataset(
    DatasetSpec(
        name="mnist",
        title="MNIST",
        n_classes=10,
        input_shape=(784,),
        image_shape=(28, 28),
        idx_files=_MNIST_FILES,
        md5={
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
        gz_md5={  # the original files (yann.lecun.com, mirrored by cvdf-datasets)
            "train-images-idx3-ubyte": ("f68b3c2dcbeaaa9fbdd348bbdeb94873",),
            "train-labels-idx1-ubyte": ("d53e105ee54ea40749a09fcbcd1e9432",),
            "t10k-images-idx3-ubyte": ("9fb629c4189551a2d022fa330f9573f3",),
            "t10k-labels-idx1-ubyte": ("ec29112dd5afa0611ce80d1b7f02629c",),
        },
        subdirs=("mnist", "MNIST/raw", "MNIST"),
        tfds_name="mnist",
        download_hint=(
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz (e.g. from https://storage.googleapis.com/cvdf-datasets/mnist/)"
        ),
    )
)

register_dataset(
    DatasetSpec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        n_classes=10,
        input_shape=(784,),
        image_shape=(28, 28),
        aliases=("fashion-mnist", "fashionmnist"),
        idx_files=_MNIST_FILES,
        md5={
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
        gz_md5={  # upstream (zalandoresearch/fashion-mnist), then Debian's re-pack
            "train-images-idx3-ubyte": (
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "cf8536b0aa1a6ac5fa3f23001093305c",
            ),
            "train-labels-idx1-ubyte": (
                "25c81989df183df01b3e8a0aad5dffbe",
                "10bea18fdb374794d4bb42e356e600c9",
            ),
            "t10k-images-idx3-ubyte": (
                "bef4ecab320f06d8554ea6380940ec79",
                "f78720b4224f21cce2f2ccf2d7a94c9a",
            ),
            "t10k-labels-idx1-ubyte": (
                "bb300cfdad3c16e7a12a480ee83cd310",
                "0d30e22e447f3c33dab9ed536400ac01",
            ),
        },
        subdirs=("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST"),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        tfds_name="fashion_mnist",
        download_hint=(
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
            "t10k-labels-idx1-ubyte.gz (from https://github.com/zalandoresearch/fashion-mnist, "
            "data/fashion/; on Debian/Ubuntu: apt-get install dataset-fashion-mnist)"
        ),
        notes="the Debian package dataset-fashion-mnist installs it into "
        "/usr/share/datasets/fashion-mnist/",
    )
)

register_dataset(
    DatasetSpec(
        name="emnist",
        title="EMNIST Balanced",
        n_classes=47,
        input_shape=(784,),
        image_shape=(28, 28),
        aliases=("emnist_balanced", "emnist/balanced"),
        idx_files={
            split: IdxFiles(
                f"emnist-balanced-{split}-images-idx3-ubyte",
                f"emnist-balanced-{split}-labels-idx1-ubyte",
            )
            for split in ("train", "test")
        },
        md5={  # EMNIST Balanced files have no known md5 (they load unverified)
            "emnist-bymerge-test-images-idx3-ubyte": "faf1876b296b797b4891ee9bd35f388d",
            "emnist-bymerge-test-labels-idx1-ubyte": "7648e443fa0e8f0efac7f8978ee42db4",
        },
        gz_md5={  # the files of NIST's gzip.zip
            "emnist-bymerge-test-images-idx3-ubyte": ("8eb5d34c91f1759a55831c37ec2a283f",),
            "emnist-bymerge-test-labels-idx1-ubyte": ("c13f4cd5211cdba1b8fa992dae2be992",),
        },
        subdirs=("emnist", "EMNIST/raw", "EMNIST"),
        tfds_name="emnist/balanced",
        transposed=True,
        standin=StandIn(
            files=IdxFiles(
                "emnist-bymerge-test-images-idx3-ubyte", "emnist-bymerge-test-labels-idx1-ubyte"
            ),
            train_size=100_000,
            description="EMNIST ByMerge test split",
            not_with="emnist-balanced-",
        ),
        download_hint=(
            "emnist-balanced-{train,test}-{images-idx3,labels-idx1}-ubyte.gz (inside gzip.zip "
            "from https://www.nist.gov/itl/products-and-services/emnist-dataset)"
        ),
        notes="stand-in: the EMNIST ByMerge test split (116,323 real EMNIST samples over the "
        "same 47 classes and label mapping as Balanced, 0-9 A-Z a b d e f g h n q r t, "
        "but unbalanced) serves offline: its first 100,000 samples are 'train', the "
        "remaining 16,323 'test'; results on it are not comparable with the Balanced split",
    )
)
