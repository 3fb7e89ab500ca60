"""Checking on processes from tests: is a pid still running, wait for pids to be gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is running (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_gone(pids, timeout: float = 5.0) -> list[int]:
    """The pids still alive after waiting up to ``timeout`` seconds for them to exit."""
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.01)
        alive = [p for p in alive if pid_alive(p)]
    return alive


def run_script(path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a script of the repository in a fresh interpreter, with the repository importable."""
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(root / path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
    )


ROOT = Path(__file__).resolve().parents[1]
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
