"""Workload B5 (BENCHMARKS.md): the core runtime, caliper beside Ray core and a raw pipe.

    python benchmarks/core_bench.py            # full sizes, Ray too when it is installed
    python benchmarks/core_bench.py --quick    # tiny sizes (what the test runs)
    python benchmarks/core_bench.py --no-ray

Each framework runs in a subprocess of its own (this script with ``--only NAME``, which prints
its figures as JSON), and every "init + first task" figure comes from a fresh interpreter timed
from outside, so it includes process start and imports. The floor is what the same work costs
over a bare ``multiprocessing.Pipe`` to a forked child that echoes small pickled messages.
Ray is started as ``ray.init(num_cpus=2, include_dashboard=False)``; caliper with
``num_cpus=2`` too.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import threading
import time

from bench_common import cold_start, collect, comparison_table, emit

FRAMEWORKS = ("caliper", "ray", "pipe")

FULL = {"round_trips": 1000, "calls": 20_000, "tasks": 10_000, "actors": 10, "cold_runs": 3}
QUICK = {"round_trips": 30, "calls": 300, "tasks": 300, "actors": 3, "cold_runs": 1}

# name, unit, higher is better, target from BENCHMARKS.md (None: no target)
ROWS = [
    ("cold_start_s", "init() + first task, fresh process (s)", False, 0.3),
    ("task_rtt_us", "task round trip, median (us)", False, 100),
    ("call_rtt_us", "actor call round trip, median (us)", False, 100),
    ("calls_per_s", "pipelined actor calls (calls/s)", True, 20_000),
    ("tasks_per_s", "pipelined tasks (tasks/s)", True, None),
    ("actor_start_ms", "actor start (ms per actor, {actors} started together)", False, 50),
]

# What a fresh interpreter runs for "init + first task"; it prints the wall clock when done.
COLD = {
    "caliper": """
import time
import caliper
caliper.init(num_cpus=2)
@caliper.remote
def one():
    return 1
assert caliper.get(one.remote()) == 1
print(time.time())
""",
    "ray": """
import time
import ray
ray.init(num_cpus=2, include_dashboard=False)
@ray.remote
def one():
    return 1
assert ray.get(one.remote()) == 1
print(time.time())
""",
    "pipe": """
import time
import multiprocessing as mp
def echo(conn):
    conn.send(conn.recv())
ctx = mp.get_context("fork")
ours, theirs = ctx.Pipe()
child = ctx.Process(target=echo, args=(theirs,))
child.start()
ours.send(1)
assert ours.recv() == 1
print(time.time())
child.join()
""",
}


# -- measurements inside one framework's process ---------------------------------------------


def _median_us(fn, n: int) -> float:
    samples = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(i)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples) / 1000


def _rate(submit, get_all, n: int) -> float:
    t0 = time.perf_counter()
    get_all(submit(n))
    return n / (time.perf_counter() - t0)


def measure_actor_framework(rt, sizes: dict) -> dict:
    """``rt`` is the ``caliper`` or ``ray`` module (same API); returns the figures."""

    @rt.remote
    def echo(x):
        return x

    @rt.remote
    class Echo:
        def echo(self, x):
            return x

    rt.get([echo.remote(i) for i in range(20)])  # warm up the task workers
    actor = Echo.remote()
    rt.get([actor.echo.remote(i) for i in range(20)])
    n = sizes["round_trips"]
    out = {
        "task_rtt_us": _median_us(lambda i: rt.get(echo.remote(i)), n),
        "call_rtt_us": _median_us(lambda i: rt.get(actor.echo.remote(i)), n),
        "calls_per_s": _rate(
            lambda k: [actor.echo.remote(i) for i in range(k)], rt.get, sizes["calls"]
        ),
        "tasks_per_s": _rate(lambda k: [echo.remote(i) for i in range(k)], rt.get, sizes["tasks"]),
    }
    t0 = time.perf_counter()
    actors = [Echo.remote() for _ in range(sizes["actors"])]
    rt.get([a.echo.remote(0) for a in actors])
    out["actor_start_ms"] = (time.perf_counter() - t0) * 1000 / len(actors)
    for a in [*actors, actor]:
        rt.kill(a)
    return out


def _pipe_echo(conn) -> None:
    while True:
        msg = conn.recv()
        if msg is None:
            return
        conn.send(msg)


def measure_pipe(sizes: dict) -> dict:
    """The floor: small pickled messages to a forked child over ``multiprocessing.Pipe``."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_pipe_echo, args=(theirs,), daemon=True)
    child.start()

    def round_trip(i):
        ours.send(("echo", (i,), {}))
        return ours.recv()

    for i in range(20):
        round_trip(i)
    rtt = _median_us(round_trip, sizes["round_trips"])

    def pipelined(n: int) -> float:
        # A thread sends while this one receives, so neither side blocks on a full pipe.
        sender = threading.Thread(
            target=lambda: [ours.send(("echo", (i,), {})) for i in range(n)], daemon=True
        )
        t0 = time.perf_counter()
        sender.start()
        for _ in range(n):
            ours.recv()
        sender.join()
        return n / (time.perf_counter() - t0)

    calls = pipelined(sizes["calls"])
    tasks = pipelined(sizes["tasks"])
    ours.send(None)
    child.join()

    t0 = time.perf_counter()
    pairs = [ctx.Pipe() for _ in range(sizes["actors"])]
    children = [ctx.Process(target=_pipe_echo, args=(b,), daemon=True) for _, b in pairs]
    for c in children:
        c.start()
    for a, _ in pairs:
        a.send(0)
    for a, _ in pairs:
        a.recv()
    start_ms = (time.perf_counter() - t0) * 1000 / len(children)
    for (a, _), c in zip(pairs, children, strict=True):
        a.send(None)
        c.join()
    return {
        "task_rtt_us": rtt,
        "call_rtt_us": rtt,
        "calls_per_s": calls,
        "tasks_per_s": tasks,
        "actor_start_ms": start_ms,
    }


def run_only(framework: str, sizes: dict) -> dict:
    """Everything measured for ``framework``, in this process (plus cold-start subprocesses)."""
    out = {"cold_start_s": cold_start(COLD[framework], sizes["cold_runs"], framework)}
    if framework == "caliper":
        import caliper

        caliper.init(num_cpus=2)
        out.update(measure_actor_framework(caliper, sizes), version=caliper.__version__)
        caliper.shutdown()
    elif framework == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False)
        out.update(measure_actor_framework(ray, sizes), version=ray.__version__)
        ray.shutdown()
    else:
        out.update(measure_pipe(sizes), version=f"Python {sys.version.split()[0]}")
    return out


# -- the driver: one subprocess per framework, one table -------------------------------------


def _collect(framework: str, quick: bool) -> dict:
    return collect(__file__, framework, ["--quick"] if quick else [], timeout=1800)


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "cold_start_s":
        return f"{value:.3f}"
    if key == "actor_start_ms":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def render(results: dict[str, dict], sizes: dict) -> str:
    """One Markdown table: a column per framework, the target, and caliper against Ray."""
    titles = {
        "caliper": f"caliper {results.get('caliper', {}).get('version', '')}",
        "ray": f"Ray {results.get('ray', {}).get('version', '')}",
        "pipe": "Pipe floor",
    }
    return comparison_table("B5 core", titles, results, ROWS, sizes, _fmt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray out even if installed")
    parser.add_argument("--only", choices=FRAMEWORKS, help="internal: measure one, print JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.only:
        emit(run_only(args.only, sizes))
        return 0
    names = ["caliper", "pipe"]
    notes = []
    if args.no_ray:
        notes.append("Ray left out (--no-ray).")
    elif importlib.util.find_spec("ray") is None:
        notes.append("Ray left out: `import ray` fails here (pip install ray==2.60.0).")
    else:
        names.insert(1, "ray")
    results = {}
    for name in names:
        print(f"measuring {name}...", file=sys.stderr, flush=True)
        try:
            results[name] = _collect(name, args.quick)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            if name == "caliper":
                raise
            notes.append(f"{name} left out: {str(exc).splitlines()[0]}")
    print(render(results, sizes))
    print(
        f"\nsizes: {sizes['round_trips']} round trips, {sizes['calls']:,} pipelined calls, "
        f"{sizes['tasks']:,} pipelined tasks, {sizes['actors']} actors, "
        f"cold start median of {sizes['cold_runs']}; {os.cpu_count()} CPUs"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
