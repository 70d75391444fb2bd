"""Exchange formats with other neuromorphic toolchains: :mod:`snnjax.interop.nir` (NIR)."""
