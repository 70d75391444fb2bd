r"""Thin wrapper of `snnjax train mnist_ttfs` (see README.md); extra flags pass through.

    python experiments/mnist_ttfs/main.py --data-dir ../shared/data/mnist \
        --out runs/mnist_ttfs
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "mnist_ttfs", *sys.argv[1:]]))
