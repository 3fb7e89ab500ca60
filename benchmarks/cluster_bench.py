"""Workloads B2 and B3 (BENCHMARKS.md) on a Ray cluster: caliper-on-Ray beside Ray Tune.

    python benchmarks/cluster_bench.py              # starts a loopback cluster, both frameworks
    python benchmarks/cluster_bench.py --quick      # tiny sizes
    python benchmarks/cluster_bench.py --address HOST:PORT   # an existing cluster instead

The cluster is a head node and one more node on this machine, each with 2 logical CPUs
(started with ``ray start``, as tests/cluster does). Both frameworks drive the same cluster
from a fresh process: caliper with ``caliper.init(address=...)``, Ray Tune with
``ray.init(address=...)``; their trainables do nothing but report, so the time is the
controller's and the runtime's overhead. B2: trials that report once, 2 at a time; B3:
4 trials x N reports. Ray Tune runs smaller sizes by default (rates are per second).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench_common import collect_all, comparison_table, emit, scratch_dir, tune_workloads

FULL = {"trials": 200, "reports": 1000}
QUICK = {"trials": 10, "reports": 50}
RAY_FULL = {"trials": 40, "reports": 200}
ROWS = [
    ("connect_s", "connect to the cluster: init(address=...) (s)", False, None),
    ("trials_per_s", "B2 trial throughput on the cluster (trials/s, 2 at a time)", True, None),
    ("results_per_s", "B3 result throughput on the cluster (results/s, 4 trials)", True, None),
    ("ms_per_trial", "controller + runtime time per trial (ms)", False, None),
    ("ms_per_result", "controller + runtime time per result (ms)", False, None),
]


def measure(framework: str, address: str, sizes: dict) -> dict:
    started = time.perf_counter()
    if framework == "caliper":
        import caliper as rt
        from caliper import tune

        rt.init(address=address)
    else:
        import ray as rt
        from ray import tune

        rt.init(address=address, log_to_driver=False)
    out: dict = {"version": rt.__version__, "connect_s": time.perf_counter() - started}
    storage = scratch_dir()

    once, many, fit = tune_workloads(tune, storage)

    fit(once, {"x": tune.uniform(0, 1)}, 2)  # warm up: workers, imports
    n = sizes["trials"]
    elapsed = fit(once, {"x": tune.uniform(0, 1)}, n, max_concurrent_trials=2)
    out["trials_per_s"], out["ms_per_trial"] = n / elapsed, 1000 * elapsed / n
    reports = sizes["reports"]
    elapsed = fit(many, {"x": tune.uniform(0, 1), "n": reports}, 4)
    out["results_per_s"], out["ms_per_result"] = (
        4 * reports / elapsed,
        1000 * elapsed / (4 * reports),
    )
    rt.shutdown()
    return out


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "connect_s":
        return f"{value:.2f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def _cluster():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cluster"))
    from raycluster import ENV, Cluster

    os.environ.update(ENV)
    cluster = Cluster().start()
    cluster.add_node()
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray Tune out")
    parser.add_argument("--ray-full", action="store_true", help="Ray Tune at caliper's sizes")
    parser.add_argument("--address", help="an existing Ray cluster (default: start one)")
    parser.add_argument("--only", help="internal: measure one framework, print JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.only:
        if args.only == "ray" and not args.quick and not args.ray_full:
            sizes = RAY_FULL
        emit(measure(args.only, args.address, sizes))
        return 0
    try:
        import ray  # noqa: F401
    except ImportError:
        print("this benchmark needs Ray: pip install 'caliper[ray]'", file=sys.stderr)
        return 2
    cluster = None if args.address else _cluster()
    address = args.address or cluster.address
    try:
        flags = ["--address", address] + (["--quick"] if args.quick else [])
        flags += ["--ray-full"] if args.ray_full else []
        results, notes = collect_all(__file__, args.no_ray, flags)
    finally:
        if cluster is not None:
            cluster.shutdown()
    titles = {
        "caliper": f"caliper {results.get('caliper', {}).get('version', '')} on Ray",
        "ray": f"Ray Tune {results.get('ray', {}).get('version', '')}",
    }
    print(comparison_table("workload (same Ray cluster)", titles, results, ROWS, sizes, _fmt))
    ray_sizes = sizes if (args.quick or args.ray_full) else RAY_FULL
    print(
        f"\nsizes: caliper B2 {sizes['trials']} trials, B3 4 x {sizes['reports']} reports"
        + (
            f"; Ray Tune B2 {ray_sizes['trials']} trials, B3 4 x {ray_sizes['reports']} reports"
            if "ray" in results
            else ""
        )
        + f"; cluster: {'given' if args.address else 'head + 1 node, 2 logical CPUs each'}"
        + f", {os.cpu_count()} cores"
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
