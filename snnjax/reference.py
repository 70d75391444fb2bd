"""Moved to :mod:`snnjax.lif.reference`; this module name keeps old imports working.

``import snnjax.reference`` gives the very module object of ``snnjax.lif.reference``.
"""

import sys

from snnjax.lif import reference as _moved

sys.modules[__name__] = _moved
