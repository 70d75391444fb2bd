"""Datasets for snnjax, in plain NumPy.

- :func:`yinyang`, :func:`yinyang_spike_times`: the Yin-Yang dataset, generated
  procedurally (bit-exact with the published split), and its spike-time encoding.
- :func:`read_idx`, :func:`load_idx`: the IDX (MNIST) file reader with md5 checks.
- :func:`load_dataset`: MNIST, Fashion-MNIST and EMNIST Balanced from IDX files or
  tensorflow-datasets; :func:`train_validation_split`.
- :func:`batches`, :func:`num_batches`: deterministic mini-batch indices.
- :func:`get_dataset`, :func:`register_dataset`, :class:`DatasetSpec`: the dataset
  registry (:mod:`snnjax.data.registry`): names, classes, shapes and sources.
- :mod:`snnjax.data.augment` (imported on its own: it needs JAX): seeded elastic
  distortions of images, the training augmentation of ``mnist_conv``.
"""

from snnjax.data.batching import batches, num_batches
from snnjax.data.idx import KNOWN_IDX_MD5, ChecksumError, IdxFile, load_idx, read_idx
from snnjax.data.images import (
    DATASET_NAMES,
    EMNIST_STANDIN_TRAIN_SIZE,
    SYSTEM_DATA_DIRS,
    ImageDataset,
    load_dataset,
    train_validation_split,
)
from snnjax.data.registry import (
    DatasetSpec,
    dataset_names,
    get_dataset,
    register_dataset,
)
from snnjax.data.yinyang_dataset import (
    YINYANG_CLASS_NAMES,
    YINYANG_SPLITS,
    yinyang,
    yinyang_spike_times,
)

__all__ = [
    "DATASET_NAMES",
    "EMNIST_STANDIN_TRAIN_SIZE",
    "KNOWN_IDX_MD5",
    "SYSTEM_DATA_DIRS",
    "YINYANG_CLASS_NAMES",
    "YINYANG_SPLITS",
    "ChecksumError",
    "DatasetSpec",
    "IdxFile",
    "ImageDataset",
    "batches",
    "dataset_names",
    "get_dataset",
    "load_dataset",
    "load_idx",
    "num_batches",
    "read_idx",
    "register_dataset",
    "train_validation_split",
    "yinyang",
    "yinyang_spike_times",
]
