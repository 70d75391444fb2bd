"""Documentation checks: every public name has a docstring; the docs site builds strictly."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import snnjax
import snnjax.analysis
import snnjax.data
import snnjax.losses
import snnjax.nn

ROOT = Path(__file__).resolve().parents[1]


def _public_functions(module) -> list[str]:
    """Public functions and classes defined in ``module`` itself (no ``__all__`` needed)."""
    return sorted(
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and getattr(obj, "__module__", None) == module.__name__
    )


def _documented_names():
    """``(module name, public name)`` pairs the API reference must document."""
    pairs = []
    for module in (snnjax, snnjax.nn, snnjax.analysis, snnjax.data):
        pairs += [(module.__name__, name) for name in module.__all__]
    names = sorted(
        set(getattr(snnjax.losses, "__all__", [])) | set(_public_functions(snnjax.losses))
    )
    pairs += [("snnjax.losses", name) for name in names]
    return pairs


def _own_docstring(obj, name: str) -> str:
    """The docstring written for ``obj``, ignoring auto-generated and inherited ones."""
    doc = obj.__doc__ if inspect.isroutine(obj) else vars(obj).get("__doc__")
    doc = (doc or "").strip()
    # NamedTuple and dataclass generate "Name(field, ...)" when no docstring is written.
    if re.fullmatch(rf"{re.escape(name)}\(.*\)", doc, flags=re.DOTALL):
        return ""
    return doc


def _documentable(pair) -> bool:
    """Functions and classes carry docstrings; constants and type aliases cannot."""
    obj = getattr(importlib.import_module(pair[0]), pair[1])
    return inspect.isroutine(obj) or inspect.isclass(obj)


@pytest.mark.parametrize(
    ("module_name", "name"), [p for p in _documented_names() if _documentable(p)]
)
def test_public_name_has_docstring(module_name, name):
    obj = getattr(importlib.import_module(module_name), name)
    assert _own_docstring(obj, name), f"{module_name}.{name} has no docstring"


def test_the_check_covers_the_api():
    pairs = _documented_names()
    assert ("snnjax", "lif_layer") in pairs
    assert ("snnjax.losses", "spike_count_loss") in pairs
    assert len(pairs) > 50


_DOCS_PACKAGES = (
    "mkdocs",
    "material",
    "mkdocstrings",
    "mkdocstrings_handlers.python",
    "mkdocs_jupyter",
    "jupytext",
)


def _missing_docs_packages() -> list[str]:
    missing = []
    for name in _DOCS_PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


@pytest.mark.slow
def test_docs_build_strict(tmp_path):
    """``mkdocs build --strict`` (warnings are errors) executes the tutorials and succeeds."""
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(
            f"docs toolchain not installed ({', '.join(missing)}); pip install -e '.[docs]'"
        )
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    for page in (
        "index.html",
        "getting-started/index.html",
        "model/index.html",
        "api/index.html",
        "tutorials/one_neuron/index.html",
    ):
        assert (site / page).is_file(), page
    api = (site / "api" / "index.html").read_text()
    assert "lif_layer" in api and "spike_count_loss" in api
    tutorial = (site / "tutorials" / "one_neuron" / "index.html").read_text()
    # the membrane plot: an inline PNG far larger than the theme's tiny icons
    assert re.search(r"data:image/png;base64,[A-Za-z0-9+/=\s]{5000}", tutorial), (
        "the tutorial's membrane plot was not rendered"
    )
