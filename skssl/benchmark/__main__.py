"""Entry point of ``python -m skssl.benchmark`` and ``skssl-benchmark``."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
