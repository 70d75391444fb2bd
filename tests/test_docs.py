"""Documentation checks: every public name has a docstring; the docs site builds strictly."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
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


# Submodules left out of the API reference: the old locations of parts of snnjax.lif (its
# event loop, custom_vjp, layer and compiled kernel), kept only for old imports.
INTERNAL_MODULES = {"cpu_kernel", "grad", "kernel", "layer"}


def _api_modules() -> list[str]:
    """Modules rendered by ``docs/api.md`` (its ``::: snnjax...`` directives)."""
    return re.findall(
        r"^::: (snnjax[\w.]*)\s*$", (ROOT / "docs" / "api.md").read_text(), flags=re.MULTILINE
    )


def _documented_names():
    """``(module name, public name)`` pairs the API reference must document: the
    ``__all__`` and the public functions/classes of every module on the API page."""
    pairs = []
    for module_name in _api_modules():
        module = importlib.import_module(module_name)
        names = set(getattr(module, "__all__", []))
        if module is not snnjax:
            names |= set(_public_functions(module))
        pairs += [(module_name, name) for name in sorted(names)]
    return pairs


def test_every_public_submodule_is_on_the_api_page():
    on_page = set(_api_modules())
    missing = sorted(
        f"snnjax.{m}"
        for m in snnjax._SUBMODULES - INTERNAL_MODULES - set(snnjax._MOVED_MODULES)
        if f"snnjax.{m}" not in on_page
    )
    assert not missing, f"add to docs/api.md: {missing}"
    assert {"snnjax", "snnjax.nn", "snnjax.train", "snnjax.reports.tradeoffs"} <= on_page


def test_moved_modules_are_their_new_modules_and_on_the_api_page():
    """``snnjax.tradeoffs`` & co. are thin aliases of their new modules, which are documented."""
    on_page = set(_api_modules())
    for old, new in snnjax._MOVED_MODULES.items():
        assert new in on_page, f"add to docs/api.md: {new}"
        assert importlib.import_module(f"snnjax.{old}") is importlib.import_module(new)
        assert getattr(snnjax, old) is importlib.import_module(new)
    for pkg in ("snnjax.reports", "snnjax.interop"):
        package = importlib.import_module(pkg)
        subs = sorted(
            f"{pkg}.{m.name}"
            for m in pkgutil.iter_modules(package.__path__)
            if not m.name.startswith("_")
        )
        missing = [m for m in subs if m not in on_page]
        assert not missing, f"add to docs/api.md: {missing}"


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


# ------------------------------------------------------------------ the docs site

DOCS = ROOT / "docs"
TUTORIALS = ("one_neuron", "train_yinyang", "train_mnist", "robustness", "trade_off_report")


def _hooks():
    """``docs/hooks.py`` (the MkDocs hooks), imported from its path."""
    pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location("snnjax_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MEMBRANE_FIGURES = ("images/membrane_multispike.png", "images/membrane_ttfs.png")


def test_every_tutorial_is_in_the_nav():
    """A tutorial file not listed in mkdocs.yml would be built but unreachable."""
    on_disk = sorted(p.stem for p in (DOCS / "tutorials").glob("*.py"))
    assert on_disk == sorted(TUTORIALS)
    nav = (ROOT / "mkdocs.yml").read_text()
    for name in TUTORIALS:
        assert f"tutorials/{name}.py" in nav, name


def test_tutorial_cross_references_become_autorefs():
    hooks = _hooks()

    class _File:
        def __init__(self, uri):
            self.src_uri = uri

    class _Page:
        def __init__(self, uri):
            self.file = _File(uri)

    html = (
        "<p>see [<code>snnjax.lif_layer</code>][snnjax.lif_layer] and "
        "[<code>snnjax.nn</code>][] but not x[0][1] or [a][b]</p>"
    )
    out = hooks.on_page_content(html, _Page("tutorials/x.py"), None, None)
    assert '<autoref identifier="snnjax.lif_layer"><code>snnjax.lif_layer</code></autoref>' in out
    assert '<autoref identifier="snnjax.nn"><code>snnjax.nn</code></autoref>' in out
    assert "x[0][1]" in out
    assert "[a][b]" in out
    # Markdown pages are left to autorefs' own Markdown extension
    assert hooks.on_page_content(html, _Page("model.md"), None, None) == html


def test_model_page_membrane_figures_render():
    """The figures of docs/model.md: lif_layer's spike times lie on u = theta (checked by
    the renderer itself, which raises otherwise)."""
    hooks = _hooks()
    assert sorted(hooks._MEMBRANE_FIGURES) == sorted(MEMBRANE_FIGURES)
    model = (DOCS / "model.md").read_text()
    for uri, spec in hooks._MEMBRANE_FIGURES.items():
        assert f"]({uri})" in model, uri
        png = hooks._render_membrane(spec)
        assert png.startswith(b"\x89PNG")
        assert len(png) > 10_000


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
    for page in ("index.html", "getting-started/index.html", "model/index.html", "api/index.html"):
        assert (site / page).is_file(), page
    api = (site / "api" / "index.html").read_text()
    assert "lif_layer" in api
    assert "spike_count_loss" in api
    for name in TUTORIALS:
        html = (site / "tutorials" / name / "index.html").read_text()
        # the plots: inline PNGs far larger than the theme's tiny icons
        assert re.search(r"data:image/png;base64,[A-Za-z0-9+/=\s]{5000}", html), (
            f"tutorial {name}: no plot was rendered"
        )
        # [title][snnjax.x] references became links (docs/hooks.py), none left as text
        assert "autorefs-internal" in html, name
        assert not re.search(r"\]\[snnjax[\w.]*\]", html), name
    # the model page's membrane traces, rendered from the code by docs/hooks.py
    model = (site / "model" / "index.html").read_text()
    for uri in MEMBRANE_FIGURES:
        assert f'src="../{uri}"' in model, uri
        assert (site / uri).read_bytes().startswith(b"\x89PNG"), uri
