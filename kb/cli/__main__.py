"""``python -m kb.cli``: the ``kb`` command."""
import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
