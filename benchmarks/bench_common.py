"""What the benchmark scripts share: running one framework's measurements in a subprocess of
their own, and printing a Markdown table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "@@RESULT "


def env() -> dict[str, str]:
    """The environment for subprocesses: this checkout importable, and bytecode caching on as
    in users' installs (pip writes .pyc files; without them every import compiles again)."""
    out = dict(os.environ)
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    out["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), out.get("PYTHONPATH")]))
    return out


def collect(script: str, framework: str, extra: list[str], timeout: float = 3600) -> dict:
    """Run ``script --only framework *extra`` and return the JSON it prints after the mark."""
    cmd = [sys.executable, script, "--only", framework, *extra]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env(), stdin=subprocess.DEVNULL
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    raise RuntimeError(
        f"{framework} benchmark failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    )


def emit(result: dict) -> None:
    print(RESULT_MARK + json.dumps(result), flush=True)


def markdown(rows: list[list[str]]) -> str:
    """A Markdown table; the first row is the header, the first column left-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("| " + " | ".join(cells) + " |")
    rule = ["-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)]
    out.insert(1, "|" + "|".join(rule) + "|")
    return "\n".join(out)


def versus(mine: float | None, peer: float | None, higher: bool) -> str:
    """``3.2x better`` / ``1.5x worse`` for caliper against a peer."""
    if not mine or not peer:
        return "-"
    ratio = mine / peer if higher else peer / mine
    return f"{ratio:.1f}x better" if ratio >= 1 else f"{1 / ratio:.1f}x worse"
