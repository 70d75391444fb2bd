"""Moved to :mod:`snnjax.reports.convergence`; this module name keeps old imports working.

``import snnjax.convergence_report`` gives the very module object of ``snnjax.reports.convergence``.
"""

import sys

from snnjax.reports import convergence as _moved

sys.modules[__name__] = _moved
