"""NIR export and import (see :mod:`snnjax.interop.nir.imports`)."""

from snnjax.interop.nir.imports import (
    MAPPING_VERSION,
    export_nir,
    import_nir,
    load_nir,
    save_nir,
)

__all__ = ["MAPPING_VERSION", "export_nir", "import_nir", "load_nir", "save_nir"]
