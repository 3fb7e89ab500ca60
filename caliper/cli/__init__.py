"""The ``tune`` / ``caliper`` command line (``python -m caliper`` runs it too).

``tune run config.yaml`` runs an experiment described in YAML; ``tune restore``, ``tune ls``
and ``tune best`` continue and read experiments on disk.
"""

from caliper.cli.main import main

__all__ = ["main"]
