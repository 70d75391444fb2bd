r"""Thin wrapper of `snnjax train emnist` (see README.md); extra flags pass through.

    python experiments/emnist/main.py --data-dir ../shared/data/emnist \
        --out runs/emnist
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "emnist", *sys.argv[1:]]))
