"""Moved to :mod:`snnjax.reports.plot`; this module name keeps old imports working.

``import snnjax.plot`` gives the very module object of ``snnjax.reports.plot``.
"""

import sys

from snnjax.reports import plot as _moved

sys.modules[__name__] = _moved
