"""What the benchmark scripts share: running one framework's measurements in a subprocess of
their own, and printing a Markdown table."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT_MARK = "@@RESULT "


def scratch_dir() -> str:
    """A new temp directory for a benchmark's experiments, deleted when the process exits."""
    path = tempfile.mkdtemp(prefix="caliper-bench-")
    atexit.register(shutil.rmtree, path, True)
    return path


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


def collect_all(script: str, no_ray: bool, flags: list[str]) -> tuple[dict, list[str]]:
    """caliper's figures and Ray Tune's (unless ``no_ray`` or Ray is not installed), each
    from ``script --only <name> *flags`` in its own process; the notes say what was left out."""
    import importlib.util

    names, notes = ["caliper"], []
    if no_ray:
        notes.append("Ray Tune left out (--no-ray).")
    elif importlib.util.find_spec("ray") is None:
        notes.append("Ray Tune left out: `import ray` fails here (pip install 'ray[tune]').")
    else:
        names.append("ray")
    results = {}
    for name in names:
        print(f"measuring {name}...", file=sys.stderr, flush=True)
        try:
            results[name] = collect(script, name, flags)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            if name == "caliper":
                raise
            notes.append(f"{name} left out: {str(exc).splitlines()[0]}")
    return results, notes


def cold_start(code: str, runs: int, what: str) -> float:
    """Median seconds from starting a fresh interpreter running ``code`` (which prints the
    wall clock when its work is done, as its last line) to that moment."""
    times = []
    for _ in range(runs):
        start = time.time()
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=600,
            env=env(),
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"cold start of {what} failed:\n{proc.stderr[-2000:]}")
        times.append(float(proc.stdout.strip().splitlines()[-1]) - start)
    return statistics.median(times)


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


def comparison_table(
    first: str,
    titles: dict[str, str],
    results: dict[str, dict],
    rows: list[tuple],
    sizes: dict,
    fmt,
) -> str:
    """One Markdown table: a column per framework measured (``titles``, in order), the
    target, whether caliper met it, and caliper against Ray when both ran. ``rows`` are
    ``(key, label, higher is better, target or None)``; ``fmt(key, value)`` formats a cell."""
    names = [name for name in titles if name in results]
    with_ray = "ray" in results and "caliper" in results
    header = [first, *(titles[n] for n in names), "target", "caliper met it"]
    table = [header + (["caliper vs Ray"] if with_ray else [])]
    for key, label, higher, target in rows:
        row = [label.format(**sizes), *(fmt(key, results[n].get(key)) for n in names)]
        mine = results.get("caliper", {}).get(key)
        row.append("-" if target is None else f"{'>=' if higher else '<='} {fmt(key, target)}")
        if target is None or mine is None:
            row.append("-")
        else:
            row.append("yes" if (mine >= target if higher else mine <= target) else "NO")
        if with_ray:
            row.append(versus(mine, results["ray"].get(key), higher))
        table.append(row)
    return markdown(table)


def tune_workloads(tune, storage: str):
    """The trainables of B2 and B3 and a ``fit`` that times a Tuner over them, written once
    for every framework whose ``tune`` module has Ray Tune's API.

    Returns ``(once, many, fit)``: ``once`` reports ``x`` once; ``many`` reports ``n`` times;
    ``fit(trainable, space, num_samples, **tune_config)`` returns the seconds ``fit()`` took.
    """

    def once(config):
        tune.report({"loss": config["x"]})

    def many(config):
        for i in range(config["n"]):
            tune.report({"loss": config["x"] * i, "step": i})

    def fit(trainable, space, num_samples, **tune_kwargs):
        started = time.perf_counter()
        tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(num_samples=num_samples, **tune_kwargs),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
        return time.perf_counter() - started

    return once, many, fit
