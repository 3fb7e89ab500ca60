"""``python -m caliper``: the same command line as ``tune`` / ``caliper``."""

import sys

from caliper.cli import main

sys.exit(main())
