r"""Thin wrapper of `snnjax train mnist_conv` (see README.md); extra flags pass through.

    python experiments/mnist_conv/main.py --data-dir ../shared/data/mnist \
        --out runs/mnist_conv
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "mnist_conv", *sys.argv[1:]]))
