"""Build hooks for the snnjax documentation.

This file is loaded twice by ``mkdocs.yml``: as an MkDocs hook module and as a Griffe
extension of the mkdocstrings Python handler (``docs/hooks.py:ExampleSections``).
"""

from __future__ import annotations

import re

import griffe

# A Google-style section title "Example:" alone on its line (any indentation).
_EXAMPLE_TITLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Read ``Example:`` sections as ``Examples:`` so their doctests render as code.

    The snnjax docstrings title their doctests ``Example:``; Griffe's Google parser only
    knows ``Examples:`` and would otherwise render the doctest as prose (where its output,
    e.g. ``[3, 3]``, reads as a broken Markdown reference and fails the strict build).
    """

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        """Rewrite the section title in the docstring of every collected object."""
        if obj.docstring is not None and "Example:" in obj.docstring.value:
            obj.docstring.value = _EXAMPLE_TITLE.sub(r"\1Examples:", obj.docstring.value)
