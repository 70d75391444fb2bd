"""Moved to :mod:`snnjax.reports.tradeoffs`; this module name keeps old imports working.

``import snnjax.tradeoffs`` gives the very module object of ``snnjax.reports.tradeoffs``.
"""

import sys

from snnjax.reports import tradeoffs as _moved

sys.modules[__name__] = _moved
