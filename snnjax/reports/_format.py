"""Formatting shared by the reports: table cells, Markdown and CSV tables, mean ± std.

A *table* is ``{row_label: {column: value}}`` (rows in insertion order); a missing value
is an empty CSV cell and ``-`` in Markdown.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Table = dict[str, dict[str, Any]]
"""``{row_label: {column: value}}``."""


def cell(v: Any) -> str:
    """A value as a Markdown table cell: 4 significant digits, ``-`` for missing / NaN,
    ``never`` for ``+inf`` (an epoch count that was never reached)."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    f = float(v)
    if math.isnan(f):
        return "-"
    if math.isinf(f):
        return "never" if f > 0 else "-inf"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.3g}"
    return f"{f:.4g}"


def markdown_table(
    table: Mapping[str, Mapping[str, Any]], columns: Sequence[str], first: str
) -> str:
    """``table`` as a Markdown table: header ``first | *columns``, one line per row."""
    lines = ["| " + " | ".join([first, *columns]) + " |", "|" + "---|" * (len(columns) + 1)]
    for row, vals in table.items():
        lines.append("| " + " | ".join([row, *(cell(vals.get(c)) for c in columns)]) + " |")
    return "\n".join(lines)


def write_csv_table(
    path: Path, table: Mapping[str, Mapping[str, Any]], columns: Sequence[str], first: str
) -> None:
    """``table`` as a CSV file: header ``first, *columns``; floats at full precision."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([first, *columns])
        for row, vals in table.items():
            out = []
            for c in columns:
                v = vals.get(c)
                out.append("" if v is None else (repr(float(v)) if isinstance(v, float) else v))
            w.writerow([row, *out])


def exact_mean(values: Any, axis: int | None = None) -> Any:
    """``np.mean`` that is exactly the value where all values are equal (the mean of twenty
    seeds of accuracy 0.54 is ``0.5399999999999998``, not the accuracy of each seed).

    Args:
      values: non-empty array-like of floats.
      axis: reduce over this axis (default: all values).

    Returns:
      A float (``axis=None``) or an array of the reduced shape.
    """
    v = np.asarray(values, np.float64)
    first = v.reshape(-1)[0] if axis is None else np.take(v, 0, axis=axis)
    mean = np.where(np.ptp(v, axis=axis) == 0, first, np.mean(v, axis=axis))
    return float(mean) if axis is None else mean


def exact_std(values: Any, axis: int | None = None, ddof: int = 0) -> Any:
    """``np.std`` that is exactly 0 where all values are equal (and with ``<= ddof`` values).

    ``np.std`` of equal values can be a rounding residue instead of 0 (twenty seeds of
    accuracy 0.54 give ``2.2e-16``, which a report would print as ``2.22e-16``).

    Args:
      values: array-like of finite floats.
      axis: reduce over this axis (default: all values).
      ddof: delta degrees of freedom (0: population std, 1: sample std).

    Returns:
      A float (``axis=None``) or an array of the reduced shape.
    """
    v = np.asarray(values, np.float64)
    n = v.size if axis is None else v.shape[axis]
    if n <= ddof or n == 0:
        return 0.0 if axis is None else np.zeros(np.delete(v.shape, axis))
    std = np.where(np.ptp(v, axis=axis) == 0, 0.0, np.std(v, axis=axis, ddof=ddof))
    return float(std) if axis is None else std


def mean_std(values: Sequence[Any]) -> tuple[float, float, int]:
    """Mean, sample std (ddof 1) and count of the finite values (``None`` skipped);
    equal values have exactly their value as mean and 0 as std (as has one value);
    ``(nan, nan, 0)`` when there is none."""
    v = np.array([float(x) for x in values if x is not None], np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return exact_mean(v), exact_std(v, ddof=1), int(v.size)


def plus_minus(mean: float, std: float, n: int) -> str:
    """``"mean ± std (n=n)"`` (``"mean (n=1)"`` for one value, ``-`` for none)."""
    if n == 0:
        return "-"
    return f"{cell(mean)} ± {cell(std)} (n={n})" if n > 1 else f"{cell(mean)} (n=1)"
