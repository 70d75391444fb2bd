"""Schemas of a run directory's JSON files: which fields each must have, of which type.

:class:`~snnjax.train.RunDir`'s readers check every file against its schema after
parsing it, so a damaged or hand-edited file is refused with its name, the line
(``metrics.jsonl``) and the field (:class:`RunFileError`), instead of being used with
defaults (a ``config.json`` of ``{}`` would be the default config) or failing later with
a ``KeyError``. Fields not in a schema are allowed (files of newer versions).

A type is written as a short string: ``"int"``, ``"number"``, ``"str"``, ``"bool"``,
``"list"``, ``"object"``, ``"list[int]"``, ``"list[number]"``, ``"list[str]"``,
``"object[number]"`` (an object whose values are numbers), ``"any"``; a final ``"?"``
allows ``null``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any

from snnjax.configs import ExperimentConfig

__all__ = [
    "RunFileError",
    "check_config",
    "check_fields",
    "config_fields",
    "describe",
    "matches",
    "CONFIG_OPTIONAL",
    "METRICS_ROW",
    "METRICS_ROW_OPTIONAL",
    "RESULTS",
    "RUN_INFO",
]


class RunFileError(ValueError):
    """A file of a run directory exists but is not what it should be (invalid JSON, not a
    JSON object, a missing field or a field of the wrong type); the message names the
    file, the line for ``.jsonl`` files, and the field."""


# Config fields a config.json may lack: fields added to ExperimentConfig after run
# directories were first written go here (with a default), so older runs stay readable.
# Every other field is required: snnjax train writes them all.
CONFIG_OPTIONAL: frozenset[str] = frozenset(
    {
        "count_temperature",
        "augment",
        "elastic_alpha",
        "elastic_sigma",
        "spike_input_events",
        "weight_bump",
    }
)

# run.json (absent in runs of the first versions: then nothing is checked).
RUN_INFO = {
    "config_name": "str",
    "data_source": "str",
    "n_train": "int",
    "n_validation": "int",
    "n_test": "int",
    "input_shape": "list[int]",
    "max_input_events": "int?",
    "max_active_inputs": "int",
    "layer_names": "list[str]",
    "readout": "str",
    "jax_version": "str",
    "snnjax_version": "str",
    "device": "str",
}
RUN_INFO_OPTIONAL = {
    "data_parallel_devices": "int?",
    "backend": "str",
    "data_dir": "str?",
    "data_files": "object[str]",
    "input_event_bounds": "list",
    "event_bound_calibration": "object",
}

# One row of metrics.jsonl as the training loop writes it (and reads back on resume).
METRICS_ROW = {
    "epoch": "int",
    "train_loss": "number?",
    "train_loss_infinite_fraction": "number",
    "train_accuracy": "number",
    "train_silent_output_fraction": "number",
    "validation_accuracy": "number?",
    "test_accuracy": "number?",
    "spikes_per_sample": "object[number]",
    "silent_neurons": "object[number]?",
    "silent_neurons_split": "str?",
    "dropped_spikes_per_sample": "object[number]",
    "input_overflow_per_sample": "object[number]",
    "nonfinite_grad_steps": "int",
    "guarded_weight_columns": "int",
    "lr": "number",
    "wall_time_s": "number",
    "train_time_s": "number",
    "train_samples_steady": "int",
    "samples_per_s": "number?",
    "compile_time_s": "number?",
    "validation": "object?",
    "test": "object?",
}
# Fields of a metrics.jsonl row that rows of older versions lack (checked when present).
METRICS_ROW_OPTIONAL = {"weight_bump_steps": "int"}

# results.json: the fields its readers rely on (the others are checked when present).
RESULTS = {
    "config_name": "str",
    "test_accuracy": "number?",
    "best_test_accuracy": "number?",
    "best_epoch": "int",
    "best_validation_accuracy": "number?",
    "selected_by": "str",
    "max_test_accuracy_over_epochs": "object?",
    "final_train_accuracy": "number",
    "spikes_per_sample": "object[number]",
    "epochs": "int",
    "seed": "int",
    "config": "object",
    "layer_names": "list[str]",
    "checkpoints": "object",
}
RESULTS_OPTIONAL = {
    "final_validation_accuracy": "number?",
    "final_train_loss": "number?",
    "spikes_per_sample_total": "number",
    "silent_neurons": "object[number]?",
    "dropped_spikes_per_sample": "object[number]",
    "input_overflow_per_sample": "object[number]",
    "max_input_events": "int?",
    "input_event_bounds": "list",
    "n_train": "int",
    "n_validation": "int",
    "n_test": "int",
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_CHECKS = {
    "any": lambda v: True,
    "int": _is_int,
    "number": _is_number,
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "list[int]": lambda v: isinstance(v, list) and all(map(_is_int, v)),
    "list[number]": lambda v: isinstance(v, list) and all(map(_is_number, v)),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "object[number]": lambda v: isinstance(v, dict) and all(map(_is_number, v.values())),
    "object[str]": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
}
_WORDS = {
    "any": "anything",
    "int": "an integer",
    "number": "a number",
    "str": "a string",
    "bool": "true or false",
    "list": "a list",
    "object": "an object",
    "list[int]": "a list of integers",
    "list[number]": "a list of numbers",
    "list[str]": "a list of strings",
    "object[number]": "an object of numbers",
    "object[str]": "an object of strings",
}


def matches(value: Any, kind: str) -> bool:
    """Whether a parsed JSON ``value`` is of type ``kind`` (see the module docstring)."""
    if kind.endswith("?"):
        return value is None or matches(value, kind[:-1])
    return _CHECKS[kind](value)


def describe(kind: str) -> str:
    """``kind`` in words, e.g. ``"a number or null"``."""
    return _WORDS[kind.rstrip("?")] + (" or null" if kind.endswith("?") else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_fields(
    data: Mapping[str, Any],
    required: Mapping[str, str],
    where: str,
    optional: Mapping[str, str] | None = None,
) -> None:
    """Check that ``data`` has every ``required`` field, and that these and the
    ``optional`` fields present are of their types.

    Args:
      data: a parsed JSON object.
      required, optional: ``{field: type}``.
      where: the file (and line) for the message.

    Raises:
      RunFileError: naming ``where`` and the first missing or mistyped field.
    """
    missing = [k for k in required if k not in data]
    if missing:
        names = ", ".join(repr(k) for k in missing[:8])
        more = f" and {len(missing) - 8} more" if len(missing) > 8 else ""
        raise RunFileError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {names}{more}")
    for key, kind in {**required, **(optional or {})}.items():
        if key in data and not matches(data[key], kind):
            raise RunFileError(
                f"{where}: field {key!r} must be {describe(kind)}, got {_short(data[key])}"
            )


def _kind(hint: Any) -> str:
    """The schema type of a config field's type hint."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        return _kind(next(a for a in args if a is not type(None))) + "?"
    if origin is tuple:
        return {int: "list[int]", float: "list[number]"}.get(args[0], "list")
    return {bool: "bool", int: "int", float: "number", str: "str"}.get(hint, "any")


@functools.cache
def config_fields() -> dict[str, str]:
    """``{field: type}`` of every :class:`~snnjax.configs.ExperimentConfig` field."""
    hints = typing.get_type_hints(ExperimentConfig)
    return {f.name: _kind(hints[f.name]) for f in dataclasses.fields(ExperimentConfig)}


def check_config(data: Mapping[str, Any], where: str) -> None:
    """Check a ``config.json`` object: every field (but :data:`CONFIG_OPTIONAL`) present,
    each of its type. Unknown fields and invalid values are left to
    :func:`snnjax.configs.config_from_dict`."""
    fields = config_fields()
    required = {k: v for k, v in fields.items() if k not in CONFIG_OPTIONAL}
    optional = {k: v for k, v in fields.items() if k in CONFIG_OPTIONAL}
    try:
        check_fields(data, required, where, optional)
    except RunFileError as err:
        if any(k not in data for k in required):
            raise RunFileError(
                f"{err} (a run's config.json holds every field of its config, "
                "as snnjax train writes it)"
            ) from None
        raise
