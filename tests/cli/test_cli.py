"""The ``tune`` / ``caliper`` command line: in process and as installed console scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import caliper
from caliper.cli import main

TIMEOUT_S = 60
VERSION_LINE = f"caliper {caliper.__version__}"
COMMANDS = ("run", "restore", "ls", "best")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
    )


def _script(name: str) -> str:
    """The console script ``name`` installed beside this Python, if it is caliper's."""
    bin_dir = Path(sys.executable).parent
    for candidate in (bin_dir / name, bin_dir / f"{name}.exe"):
        if candidate.exists():
            break
    else:
        pytest.skip(f"no {name!r} script beside {sys.executable}: caliper is not pip-installed")
    if candidate.suffix != ".exe" and "caliper.cli" not in candidate.read_text(errors="replace"):
        pytest.skip(
            f"{candidate} belongs to another package (Ray installs a 'tune' command too); "
            "reinstall caliper to get caliper's"
        )
    return str(candidate)


# -- in process -----------------------------------------------------------------------------


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == VERSION_LINE


def test_help_describes_the_tool_and_its_commands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Ray Tune API" in out
    for command in COMMANDS:
        assert command in out


def test_no_arguments_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert "usage:" in captured.err
    assert "COMMAND" in captured.err


def test_unknown_command_returns_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_unknown_argument_returns_2(capsys):
    assert main(["run", "config.yaml", "--frobnicate"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


# -- as a user runs it ----------------------------------------------------------------------


def test_tune_script_version():
    proc = _run([_script("tune"), "--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VERSION_LINE


def test_caliper_script_help():
    proc = _run([_script("caliper"), "--help"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: caliper")
    assert "restore" in proc.stdout


def test_caliper_script_without_arguments_exits_2():
    proc = _run([_script("caliper")])
    assert proc.returncode == 2
    assert "usage:" in proc.stderr


def test_python_dash_m_caliper_version():
    proc = _run([sys.executable, "-m", "caliper", "--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == VERSION_LINE
