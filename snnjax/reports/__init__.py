"""Reports on trained runs and toy experiments; matplotlib is imported only here.

* :mod:`snnjax.reports.tradeoffs`: trained runs compared side by side (``snnjax tradeoffs``):
  loading, measuring (no file I/O) and writing as separate steps.
* :mod:`snnjax.reports.convergence`: the toy convergence maps (``snnjax convergence``).
* :mod:`snnjax.reports.plot`: the figures, each a PNG plus the CSV of its data.

Internal helpers: ``_format`` (table cells, Markdown / CSV tables, mean ± std),
``_tradeoff_measure`` and ``_tradeoff_write`` (the trade-off report's measuring and writing
steps). The submodules are imported on first use (``from snnjax.reports import plot``).
"""
