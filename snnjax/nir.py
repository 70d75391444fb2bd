"""Moved to :mod:`snnjax.interop.nir`; this module name keeps old imports working.

``import snnjax.nir`` gives the very module object of ``snnjax.interop.nir``
(``export_nir``, ``import_nir``, ``save_nir``, ``load_nir``, ``MAPPING_VERSION``).
"""

import sys

from snnjax.interop import nir as _moved

sys.modules[__name__] = _moved
