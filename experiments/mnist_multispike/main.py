r"""Thin wrapper of `snnjax train mnist_multispike` (see README.md); extra flags pass through.

    python experiments/mnist_multispike/main.py --data-dir ../shared/data/mnist \
        --out runs/mnist_multispike
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "mnist_multispike", *sys.argv[1:]]))
