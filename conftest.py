"""Root pytest configuration: the docstring examples in ``snnjax/`` run as doctests
(``--doctest-modules`` in pyproject.toml). The test suite's fixtures are in
``tests/conftest.py``, its shared helpers in ``tests/helpers.py``.
"""

from pathlib import Path

_ROOT = Path(__file__).parent

# Old module names kept as aliases (``sys.modules[__name__] = <the moved module>``): pytest
# cannot collect them under their own file, and their doctests run in the moved module.
collect_ignore = [
    str(path.relative_to(_ROOT))
    for path in sorted((_ROOT / "snnjax").rglob("*.py"))
    if "sys.modules[__name__] =" in path.read_text(encoding="utf-8")
]
