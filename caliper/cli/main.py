"""Entry point of the ``tune`` and ``caliper`` console scripts."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

_DESCRIPTION = (
    "caliper: the Ray Tune API on an embedded runtime. Trials run in worker processes of "
    "this machine; there is no cluster to start."
)
_EPILOG = (
    "The commands run, restore, ls, best and show come in a later version; "
    "for now, use the core runtime from Python (import caliper)."
)


def _parser(prog: str) -> argparse.ArgumentParser:
    from caliper import __version__

    parser = argparse.ArgumentParser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument(
        "--version", action="version", version=f"caliper {__version__}", help="print the version"
    )
    return parser


def _prog_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name in ("tune", "caliper") else "caliper"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (``sys.argv[1:]`` when ``None``).

    Returns the exit status: 0 after ``--version`` or ``--help``, 2 for no arguments or
    unknown ones (after printing the help or the error).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_prog_name())
    if not args:
        parser.print_help(sys.stderr)
        return 2
    try:
        parser.parse_args(args)
    except SystemExit as exc:  # argparse exits for --help, --version and bad arguments
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    # Nothing but --help and --version parses without exiting, so this is not reached today.
    parser.print_help(sys.stderr)
    return 2
