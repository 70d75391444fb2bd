"""Data pipeline for training: load a dataset once, encode it to input spike times once.

Splits: ``train`` (what the optimizer sees), ``validation`` (selects the best epoch) and
``test`` (reported only, never used for any choice). Image datasets hold the validation
set out of their training split (:func:`snnjax.data.train_validation_split`, seed 0);
Yin-Yang has its own generated validation split (Kriener et al.: seed 41).

Encoded inputs are NumPy arrays in the library's spike-train layout: ``[N, n_in, 1]``
for dense networks, ``[N, H, W, C, 1]`` for convolutional ones (float32 seconds, ``inf`` =
no spike). Mini-batches are gathered with :func:`snnjax.data.batches`.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from snnjax.configs import ExperimentConfig
from snnjax.data import (
    get_dataset,
    load_dataset,
    train_validation_split,
    yinyang,
    yinyang_spike_times,
)
from snnjax.encoding import latency_encode

__all__ = ["SpikeDataset", "DataSplits", "prepare_data", "yinyang_source"]

#: Provenance of the generated Yin-Yang arrays.
YINYANG_SOURCE = (
    "generated: Yin-Yang (Kriener et al. 2021), published procedure and seeds "
    "(train 42, validation 41, test 40)"
)


@dataclasses.dataclass(frozen=True)
class SpikeDataset:
    """One encoded split.

    Attributes:
      times: ``[N, n_in, 1]`` (dense) or ``[N, H, W, C, 1]`` (conv) float32 input spike
        times in seconds, ``inf`` = no spike.
      labels: ``[N]`` int32 class labels.
      name: split name (``"train"``, ``"validation"``, ``"test"``).
    """

    times: np.ndarray
    labels: np.ndarray
    name: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def max_active_inputs(self) -> int:
        """Largest number of input spikes of one sample (0 for an empty split)."""
        if len(self) == 0:
            return 0
        return int(np.isfinite(self.times).reshape(len(self), -1).sum(axis=1).max())


@dataclasses.dataclass(frozen=True)
class DataSplits:
    """The three encoded splits and their provenance.

    Attributes:
      train, validation, test: :class:`SpikeDataset` (validation may be empty).
      num_classes: number of classes.
      input_shape: per-sample input shape without the spike axis, e.g. ``(5,)``,
        ``(784,)`` or ``(28, 28, 1)`` (:meth:`snnjax.data.DatasetSpec.network_input_shape`).
      source: where the data came from (the loader's ``source`` string; for images also
        whether the checksums were verified).
      max_active_inputs: largest number of input spikes of one sample over all splits.
      files: ``(absolute path, md5 of the decompressed payload)`` of every data file read
        (empty for generated data and tensorflow-datasets); a run records them
        (:mod:`snnjax.train.provenance`).
    """

    train: SpikeDataset
    validation: SpikeDataset
    test: SpikeDataset
    num_classes: int
    input_shape: tuple[int, ...]
    source: str
    max_active_inputs: int
    files: tuple[tuple[str, str], ...] = ()


def yinyang_source() -> str:
    """Provenance string of the Yin-Yang data."""
    return YINYANG_SOURCE


def _subset(times: np.ndarray, labels: np.ndarray, n: int | None):
    if n is None:
        return times, labels
    return times[:n], labels[:n]


def _encode_images(images: np.ndarray, config: ExperimentConfig) -> np.ndarray:
    if config.architecture == "conv":
        # [N, 28, 28] -> [N, 28, 28, 1 channel, 1 slot]
        times = latency_encode(
            images[..., None], t_window=config.t_window, image_ndim=3, flatten=False
        )
    else:
        times = latency_encode(images, t_window=config.t_window)  # [N, 784, 1]
    return np.asarray(times, dtype=np.float32)


def prepare_data(
    config: ExperimentConfig,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    splits: tuple[str, ...] = ("train", "validation", "test"),
) -> DataSplits:
    """Load and encode the dataset of ``config``.

    Args:
      config: the experiment config (``dataset``, ``t_window``, ``bias_time``,
        ``n_validation``, ``train_subset``, ``test_subset``, ``architecture``).
      data_dir: directory with the IDX files (image datasets); see
        :func:`snnjax.data.load_dataset` for the other places searched.
      splits: which splits to encode; the others are returned empty (e.g. ``("test",)``
        for evaluation only).

    Returns:
      :class:`DataSplits`.

    Raises:
      FileNotFoundError: the image data is nowhere to be found (the loader's message says
        where it looked and how to get the data).
      ValueError: the network's input size does not match the data.
    """
    spec = get_dataset(config.dataset)
    input_shape = spec.network_input_shape(config.architecture)
    num_classes = spec.n_classes
    want = set(splits)
    files: tuple[tuple[str, str], ...] = ()
    if spec.kind == "generated":  # Yin-Yang (the only generated dataset so far)
        source, parts = YINYANG_SOURCE, _generated_splits(config, want)
    else:
        source, files, parts = _image_splits(config, want, data_dir)
    for name in ("train", "validation", "test"):
        if name not in parts:
            parts[name] = SpikeDataset(
                np.zeros((0, *input_shape, 1), np.float32), np.zeros((0,), np.int32), name
            )

    if config.architecture == "dense" and config.sizes[0] != input_shape[0]:
        raise ValueError(
            f"config {config.name!r}: the network has {config.sizes[0]} inputs (sizes[0]) but "
            f"{config.dataset} samples have {input_shape[0]} input neurons"
        )
    if config.num_classes != num_classes:
        raise ValueError(
            f"config {config.name!r}: the network has {config.num_classes} outputs "
            f"(sizes[-1]) but {config.dataset} has {num_classes} classes"
        )
    max_active = max(p.max_active_inputs for p in parts.values())
    return DataSplits(
        train=parts["train"],
        validation=parts["validation"],
        test=parts["test"],
        num_classes=num_classes,
        input_shape=input_shape,
        source=source,
        max_active_inputs=max_active,
        files=files,
    )


def _generated_splits(config: ExperimentConfig, want: set[str]) -> dict[str, SpikeDataset]:
    """The requested Yin-Yang splits, encoded (validation only when ``n_validation > 0``)."""
    parts = {}
    for name in ("train", "validation", "test"):
        if name not in want or (name == "validation" and config.n_validation == 0):
            continue
        size = config.n_validation if name == "validation" else None
        x, y = yinyang(name, size=size)
        t = yinyang_spike_times(x, t_late=config.t_window, bias_time=config.bias_time)
        limit = {"train": config.train_subset, "test": config.test_subset}.get(name)
        t, y = _subset(t.astype(np.float32), y.astype(np.int32), limit)
        parts[name] = SpikeDataset(t, y, name)
    return parts


def _describe_sources(datasets) -> str:
    """``"SOURCE (md5 verified)"`` of each loaded dataset, once each, joined by ``"; "``."""
    sources = []
    for ds in datasets:
        if ds is not None:
            verified = "md5 verified" if ds.checksum_verified else "md5 NOT verified"
            text = f"{ds.source} ({verified})"
            if text not in sources:
                sources.append(text)
    return "; ".join(sources)


def _image_splits(
    config: ExperimentConfig, want: set[str], data_dir: str | os.PathLike[str] | None
) -> tuple[str, tuple[tuple[str, str], ...], dict[str, SpikeDataset]]:
    """``(source, files, splits)``: the requested image splits, encoded (validation is held
    out of the training split), where they came from and the files read."""
    need_train = bool(want & {"train", "validation"})
    test_ds = load_dataset(config.dataset, "test", data_dir=data_dir) if "test" in want else None
    train_ds = load_dataset(config.dataset, "train", data_dir=data_dir) if need_train else None
    parts = {}
    if train_ds is not None:
        if config.n_validation > 0:
            fit, val = train_validation_split(train_ds, config.n_validation, seed=0)
        else:
            fit, val = train_ds, None
        if "train" in want:
            t, y = _subset(fit.images, fit.labels, config.train_subset)
            parts["train"] = SpikeDataset(_encode_images(t, config), y.astype(np.int32), "train")
        if "validation" in want and val is not None:
            parts["validation"] = SpikeDataset(
                _encode_images(val.images, config), val.labels.astype(np.int32), "validation"
            )
    if test_ds is not None:
        t, y = _subset(test_ds.images, test_ds.labels, config.test_subset)
        parts["test"] = SpikeDataset(_encode_images(t, config), y.astype(np.int32), "test")
    loaded = [ds for ds in (train_ds, test_ds) if ds is not None]
    files = tuple(dict.fromkeys(f for ds in loaded for f in ds.files))
    return _describe_sources(loaded), files, parts
