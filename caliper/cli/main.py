"""Entry point of the ``tune`` and ``caliper`` console scripts (and ``python -m caliper``).

Commands: ``run`` (an experiment file), ``restore`` (continue an experiment), ``ls``
(experiments, or the trials of one) and ``best`` (the best trial of one). A bad file or
argument is one line on stderr and exit status 2 (``--debug`` adds the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

_DESCRIPTION = (
    "caliper: the Ray Tune API on an embedded runtime. Trials run in worker processes of "
    "this machine (no cluster to start), or on a Ray cluster with --address."
)
_EPILOG = (
    "Examples: tune run examples/quickstart.yaml --set tune_config.num_samples=4;  "
    "tune ls;  tune best ~/caliper_results/quickstart --format yaml.  "
    "Run `tune COMMAND --help` for a command's options."
)


def _parser(prog: str) -> argparse.ArgumentParser:
    from caliper import __version__
    from caliper.cli import run

    parser = argparse.ArgumentParser(prog=prog, description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument(
        "--version", action="version", version=f"caliper {__version__}", help="print the version"
    )
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run_parser = commands.add_parser(
        "run", parents=[debug], help="run the experiment an experiment file (YAML) describes"
    )
    run.add_arguments(run_parser)

    restore = commands.add_parser(
        "restore", parents=[debug], help="continue an interrupted or crashed experiment"
    )
    restore.add_argument("path", help="the experiment directory, <storage_path>/<name>")
    errored = restore.add_mutually_exclusive_group()
    errored.add_argument(
        "--resume-errored", action="store_true", help="resume errored trials from a checkpoint"
    )
    errored.add_argument(
        "--restart-errored", action="store_true", help="restart errored trials from scratch"
    )
    run.add_address_argument(restore)
    restore.add_argument(
        "--trainable",
        metavar="SPEC",
        help="module:function or path/to/file.py:function (needed for experiments started "
        "from Python; tune run remembers its own)",
    )

    ls = commands.add_parser(
        "ls", parents=[debug], help="list the experiments of a storage path, or the trials of one"
    )
    ls.add_argument(
        "path",
        nargs="?",
        help="a storage path (default ~/caliper_results) or an experiment directory",
    )

    best = commands.add_parser(
        "best", parents=[debug], help="print the best trial of an experiment (config, metrics)"
    )
    best.add_argument("path", help="the experiment directory")
    best.add_argument("--metric", help="the metric to compare (default: the experiment's)")
    best.add_argument("--mode", choices=("min", "max"), help="default: the experiment's")
    best.add_argument("--format", choices=("json", "yaml"), default="json")
    return parser


def _prog_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name in ("tune", "caliper") else "caliper"


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        from caliper.cli.run import run

        return run(args)
    from caliper.cli import results

    return {"restore": results.restore, "ls": results.ls, "best": results.best}[args.command](args)


def _one_line(text: str, limit: int = 400) -> str:
    """An error message in one line: a remote traceback in it shrinks to its last line."""
    head, marker, trace = text.partition("Traceback (most recent call last)")
    if marker:
        lines = [line for line in trace.splitlines() if line.strip()]
        head = f"{head} {lines[-1] if lines else ''}"
    line = " ".join(head.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (``sys.argv[1:]`` when ``None``).

    Returns the exit status: 0 on success, 2 for bad arguments or a bad experiment file
    (after one line saying what is wrong), 1 when trials failed or the experiment raised,
    130 when interrupted.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(_prog_name())
    if not args_list:
        parser.print_help(sys.stderr)
        return 2
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits for --help, --version and bad arguments
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from caliper.cli.document import ConfigError

    try:
        return _dispatch(args)
    except ConfigError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # an error of the experiment itself: said in one line too
        if args.debug:
            traceback.print_exc()
        first = _one_line(str(exc))
        hint = "" if args.debug else " (--debug shows the traceback)"
        print(
            f"{parser.prog} {args.command}: error: {type(exc).__name__}: {first}{hint}",
            file=sys.stderr,
        )
        return 1
