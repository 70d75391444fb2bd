r"""Thin wrapper of `snnjax train emnist_ttfs` (see README.md); extra flags pass through.

python experiments/emnist_ttfs/main.py --data-dir ../shared/data/emnist --out runs/emnist_ttfs
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "emnist_ttfs", *sys.argv[1:]]))
