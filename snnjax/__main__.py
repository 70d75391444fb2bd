"""``python -m snnjax ...``: the ``snnjax`` command (:func:`snnjax.cli.main`)."""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main())
