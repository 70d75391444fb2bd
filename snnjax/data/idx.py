"""Reader for IDX files (the MNIST file format), raw or gzip-compressed, with md5 checks.

An IDX file is a big-endian header -- two zero bytes, a type code (``0x08`` = uint8),
the number of dimensions -- then one big-endian uint32 per dimension, then the data
in C order. MNIST-style label files have magic 2049 (``0x00000801``: uint8, 1-D) and
image files magic 2051 (``0x00000803``: uint8, 3-D).

Checksums are taken over the *decompressed* payload, so that a file verifies whatever
gzip header it was packed with (the Debian Fashion-MNIST package, for instance,
re-packed the upstream ``.gz`` files with different headers but identical contents).
A ``.gz`` file of a known dataset is first checked against the md5s of its known
compressed copies (:attr:`snnjax.data.registry.DatasetSpec.gz_md5`), *before* it is
decompressed; any other ``.gz`` is decompressed carefully: a truncated or corrupt file
(bad deflate data, bad CRC or length trailer) raises :class:`ChecksumError` (a known file:
with the file, the expected and the actual md5 and how to get a good copy) or
``ValueError`` (an unknown file), naming the file, never a bare ``EOFError`` or
``zlib.error``.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import zlib
from typing import NamedTuple

import numpy as np

from snnjax.data.registry import DatasetSpec, registered_datasets

__all__ = [
    "KNOWN_IDX_MD5",
    "ChecksumError",
    "IdxFile",
    "load_idx",
    "read_idx",
]

logger = logging.getLogger(__name__)

#: md5 of the decompressed IDX files, keyed by dataset then canonical file name
#: (the name without ``.gz`` and with ``.idx`` spelled ``-idx``); from the dataset registry
#: (:attr:`snnjax.data.registry.DatasetSpec.md5`).
KNOWN_IDX_MD5: dict[str, dict[str, str]] = {
    name: dict(spec.md5) for name, spec in registered_datasets().items() if spec.md5
}

_MD5_TO_ID: dict[str, tuple[str, str]] = {
    md5: (dataset, name) for dataset, files in KNOWN_IDX_MD5.items() for name, md5 in files.items()
}

# IDX type code -> big-endian NumPy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def _gz_md5_to_id() -> dict[str, tuple[str, str]]:
    """md5 of every known ``.gz`` copy -> ``(dataset, canonical file name)``."""
    return {
        md5: (dataset, name)
        for dataset, spec in registered_datasets().items()
        for name, md5s in spec.gz_md5.items()
        for md5 in md5s
    }


def _known_md5(dataset: str) -> dict[str, str]:
    """Known md5s of ``dataset``'s files (:data:`KNOWN_IDX_MD5`, or the registry for an IDX
    dataset registered later); ``ValueError`` for an unknown dataset."""
    if dataset in KNOWN_IDX_MD5:
        return KNOWN_IDX_MD5[dataset]
    spec = registered_datasets().get(dataset)
    if spec is None or spec.kind != "idx":
        raise ValueError(
            f"unknown dataset {dataset!r} for checksums; known: {', '.join(KNOWN_IDX_MD5)}"
        )
    return dict(spec.md5)


class ChecksumError(ValueError):
    """The md5 of a decompressed IDX payload differs from the known one."""


class IdxFile(NamedTuple):
    """An IDX file as read from disk, with the outcome of its checksum check.

    Attributes:
        data: the array, native byte order (``uint8`` for MNIST-style files).
        path: the file it was read from.
        md5: md5 hex digest of the decompressed payload.
        expected_md5: the known md5 it was checked against, or ``None`` when the file
            is not in :data:`KNOWN_IDX_MD5` (then it was read but **not** verified).
        identity: ``(dataset, file name)`` of the known file whose md5 matched, or
            ``None``.
    """

    data: np.ndarray
    path: str
    md5: str
    expected_md5: str | None
    identity: tuple[str, str] | None

    @property
    def verified(self) -> bool:
        """True iff the payload matched a known md5."""
        return self.expected_md5 is not None and self.md5 == self.expected_md5


def canonical_idx_name(path: str | os.PathLike[str]) -> str:
    """File name without directory and ``.gz``, with ``.idxN`` spelled ``-idxN``."""
    name = os.path.basename(os.fspath(path))
    if name.endswith(".gz"):
        name = name[:-3]
    return name.replace(".idx", "-idx")


def _parse_idx(raw: bytes, path: str) -> np.ndarray:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX payload has {len(raw) - header} bytes, header {shape} "
            f"(dtype {dtype}) implies {expected}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def load_idx(
    path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    expected_md5: str | None = None,
) -> IdxFile:
    """Reads an IDX file (``.gz`` or raw) and checks the md5 of its decompressed bytes.

    The expected md5 is, in order: ``expected_md5`` if given; the entry of
    :data:`KNOWN_IDX_MD5` for ``(dataset, file name)`` if ``dataset`` is given; else
    whatever known file has the same md5 (a match identifies the file). A mismatch with
    an expected md5 raises; a file with no known md5 is read, logged and returned with
    ``expected_md5=None`` (``verified`` is False) -- never reported as verified.

    Args:
        path: the ``.gz`` or uncompressed IDX file.
        dataset: ``"mnist"``, ``"fashion_mnist"`` or ``"emnist"``: the dataset the file
            must belong to (MNIST and Fashion-MNIST share file names, so the name alone
            does not say which md5 applies).
        expected_md5: an explicit md5 hex digest to check against.

    Returns:
        An :class:`IdxFile` with the array (``uint8`` for MNIST-style files, shape
        ``[N]`` for labels, ``[N, 28, 28]`` for images) and the checksum outcome.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a well-formed IDX file, a ``.gz`` without a known md5
            does not decompress (truncated or corrupt), or ``dataset`` is unknown.
        ChecksumError: the md5 differs from the expected one, or a ``.gz`` with a known
            md5 does not decompress; the message names the file, the expected and the
            actual md5, what the file is (if known) and how to get a good copy.
    """
    path = os.fspath(path)
    known = None if dataset is None else _known_md5(dataset)
    name = canonical_idx_name(path)
    if expected_md5 is None and dataset is not None:
        expected_md5 = known.get(name)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, path, dataset, name, expected_md5)
    md5 = hashlib.md5(raw).hexdigest()
    identity = _MD5_TO_ID.get(md5)
    if expected_md5 is None and identity is not None:
        if dataset is not None and identity[0] != dataset:
            raise ChecksumError(
                f"{path} is the known {identity[0]} file {identity[1]} (md5 {md5}), "
                f"not a {dataset} file"
            )
        expected_md5 = md5
    if expected_md5 is not None and md5 != expected_md5.lower():
        if identity is not None:
            advice = (
                f"Its content is the known {identity[0]} file {identity[1]}: "
                "point the loader at the right directory."
            )
        else:
            advice = "The file is corrupt, truncated or from another dataset. " + _good_copy_advice(
                dataset
            )
        raise ChecksumError(
            f"checksum mismatch for {path}: expected md5 {expected_md5}"
            f"{f' ({dataset} {name})' if dataset else ''}, got {md5}. {advice}"
        )
    if expected_md5 is None:
        logger.info("%s: no known md5 (got %s); read WITHOUT checksum verification", path, md5)
    data = _parse_idx(raw, path)
    return IdxFile(data=data, path=path, md5=md5, expected_md5=expected_md5, identity=identity)


def _good_copy_advice(dataset: str | None) -> str:
    """How to get a good copy of a file of ``dataset`` (download URL, tfds, a package)."""
    spec: DatasetSpec | None = None if dataset is None else registered_datasets().get(dataset)
    if spec is None:
        return "Download it again from where it came from."
    ways = [f"download {spec.download_hint}" if spec.download_hint else "download it again"]
    if spec.tfds_name:
        ways.append(
            f'or use tensorflow-datasets (pip install "snnjax[tfds]"; it fetches '
            f"{spec.tfds_name!r} itself)"
        )
    return f"Get a good copy of the {spec.title} files: {', '.join(ways)}."


def _gunzip(raw: bytes, path: str, dataset: str | None, name: str, expected: str | None) -> bytes:
    """Decompress a ``.gz`` file's bytes, after checking them against known ``.gz`` copies.

    Raises:
      ChecksumError: the file is damaged (it does not decompress) and its md5 is known
        (its payload's, ``expected``, or its ``.gz`` copies'); the message names the file,
        the expected and the actual md5 and how to get a good copy.
      ValueError: an unknown file that does not decompress (the message names it).
    """
    spec = None if dataset is None else registered_datasets().get(dataset)
    gz_known = tuple(spec.gz_md5.get(name, ())) if spec is not None else ()
    file_md5 = hashlib.md5(raw).hexdigest()
    if file_md5 in gz_known or file_md5 in _gz_md5_to_id():
        return gzip.decompress(raw)  # a known copy, verified before decompressing
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        kind = "zlib.error" if isinstance(exc, zlib.error) else type(exc).__name__
        problem = f"{kind}: {exc}" if str(exc) else kind
        if expected is None and not gz_known:
            hint = ""
            if dataset is None and any(name in spec.md5 for spec in registered_datasets().values()):
                hint = " (pass dataset=... to check it against its dataset's md5)"
            raise ValueError(
                f"{path}: the gzip file is damaged (truncated or corrupt: {problem}) and has "
                f"no known checksum{hint}. {_good_copy_advice(dataset)}"
            ) from None
        wanted = [f"{m} (the file)" for m in gz_known]
        if expected is not None:
            wanted.append(f"{expected} (its decompressed contents)")
        raise ChecksumError(
            f"checksum mismatch for {path}: the file is damaged (it does not decompress: "
            f"{problem}); expected md5 {' or '.join(wanted)}, got {file_md5} (the file). "
            f"{_good_copy_advice(dataset)}"
        ) from None


def read_idx(
    path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    expected_md5: str | None = None,
) -> np.ndarray:
    """Reads an IDX file and returns its array; see :func:`load_idx` for the checks.

    Args:
        path: the ``.gz`` or uncompressed IDX file.
        dataset: optional dataset name whose known md5 the file must match.
        expected_md5: optional explicit md5 hex digest.

    Returns:
        The array in native byte order: ``[N]`` uint8 labels (magic 2049) or
        ``[N, rows, cols]`` uint8 images (magic 2051).

    Raises:
        ChecksumError: the md5 differs from a known or given one.
        ValueError: malformed file.
    """
    return load_idx(path, dataset=dataset, expected_md5=expected_md5).data
