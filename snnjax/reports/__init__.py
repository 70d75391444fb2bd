"""Reports on trained runs and toy experiments; matplotlib is imported only here.

* :mod:`snnjax.reports.tradeoffs`: trained runs compared side by side (``snnjax tradeoffs``).
* :mod:`snnjax.reports.convergence`: the toy convergence maps (``snnjax convergence``).
* :mod:`snnjax.reports.plot`: the figures, each a PNG plus the CSV of its data.

The submodules are imported on first use (``from snnjax.reports import plot``).
"""
