r"""Thin wrapper of `snnjax train yinyang_multispike` (see README.md); extra flags pass through.

python experiments/yinyang_multispike/main.py --out runs/yinyang_multispike
"""

import sys

from snnjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", "yinyang_multispike", *sys.argv[1:]]))
