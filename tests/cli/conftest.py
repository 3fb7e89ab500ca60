"""Helpers for the command-line tests: the repository root, running the command in a fresh
interpreter, and a runtime shut down after each in-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import caliper

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.yaml"
TIMEOUT_S = 60


def run_cli(
    *args: str, cwd: Path = ROOT, timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess:
    """``python -m caliper ARGS`` in a fresh interpreter, output captured."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "caliper", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def shutdown_runtime():
    """Shut down the runtime an in-process ``tune run`` started."""
    yield
    if caliper.is_initialized():
        caliper.shutdown()
