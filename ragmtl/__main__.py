"""``python -m ragmtl``: the command-line interface of :mod:`ragmtl.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
