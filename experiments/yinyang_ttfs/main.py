r"""Thin wrapper of `snnjax train yinyang_ttfs` (see README.md); extra flags pass through.

python experiments/yinyang_ttfs/main.py --out runs/yinyang_ttfs
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "yinyang_ttfs", *sys.argv[1:]]))
