r"""Thin wrapper of `snnjax train fashion_mnist` (see README.md); extra flags pass through.

python experiments/fashion_mnist/main.py --out runs/fashion_mnist
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "fashion_mnist", *sys.argv[1:]]))
