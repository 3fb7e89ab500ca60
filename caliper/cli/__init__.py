"""The ``tune`` / ``caliper`` command line (``python -m caliper`` runs it too).

Only ``--version`` and ``--help`` exist in this version; the commands ``run``, ``restore``,
``ls``, ``best`` and ``show`` come with the tuning API.
"""

from caliper.cli.main import main

__all__ = ["main"]
