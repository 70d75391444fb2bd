r"""Thin wrapper of `snnjax train fashion_mnist_ttfs` (see README.md); extra flags pass through.

python experiments/fashion_mnist_ttfs/main.py --out runs/fashion_mnist_ttfs
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "fashion_mnist_ttfs", *sys.argv[1:]]))
