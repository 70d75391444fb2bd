"""The command line recorded in reports (``snnjax tradeoffs``, ``snnjax convergence``)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from pathlib import Path


def invoked_command(snnjax_args: Sequence[str] | None = None) -> str:
    """``"snnjax " + snnjax_args`` (shell-quoted) when the arguments of the ``snnjax`` command
    are given; otherwise the current process's command line (``sys.argv``), written as
    ``snnjax ...`` when it is the ``snnjax`` script."""
    quote = lambda words: " ".join(shlex.quote(str(w)) for w in words)
    if snnjax_args is not None:
        return "snnjax " + quote(snnjax_args)
    if Path(sys.argv[0]).name == "snnjax":
        return "snnjax " + quote(sys.argv[1:])
    return quote(sys.argv)
