"""`python -m ai_etl.offline render|diff` (the command line is cli.py)."""

import sys

from ai_etl.offline.cli import main

if __name__ == "__main__":
    sys.exit(main())
