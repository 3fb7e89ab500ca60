"""Workloads B1, B2, B3 (BENCHMARKS.md): the experiment loop, caliper beside Ray Tune.

    python benchmarks/tune_bench.py            # full sizes, Ray Tune too when it is installed
    python benchmarks/tune_bench.py --quick    # tiny sizes (what the test runs)
    python benchmarks/tune_bench.py --no-ray

B1 cold start: a fresh interpreter imports the library and runs a 1-trial experiment whose
trainable reports once (timed from outside: process start, imports, runtime start, the trial).
B2 trial throughput: 200 trials that each report once, 2 at a time, random search, FIFO.
B3 result throughput: 4 trials x 1000 reports. B2 and B3 time ``fit()`` after the runtime is up.
Memory: the driver's resident memory before and after a run of 4 x 25,000 reports (it must not
grow with the number of results; results stream to disk).

Both run with defaults otherwise (every trial asks for 1 CPU; the default loggers write
result.json, progress.csv and TensorBoard files when tensorboardX is installed), ``verbose=0``,
on 2 CPUs. Ray Tune runs B2 and B3 at smaller sizes by default (it needs ~1 s per trial
here); rates are per second either way, and the sizes are printed under the table.
"""

from __future__ import annotations

import argparse
import os
import sys

from bench_common import (
    cold_start,
    collect_all,
    comparison_table,
    emit,
    scratch_dir,
    tune_workloads,
)

FRAMEWORKS = ("caliper", "ray")
FULL = {"trials": 200, "reports": 1000, "cold_runs": 3, "memory_reports": 25_000}
QUICK = {"trials": 20, "reports": 100, "cold_runs": 1, "memory_reports": 500}
RAY_FULL = {"trials": 20, "reports": 200, "cold_runs": 1, "memory_reports": 0}

ROWS = [
    ("cold_start_s", "B1 cold start: import + 1-trial experiment (s)", False, 0.5),
    ("trials_per_s", "B2 trial throughput (trials/s, 2 at a time)", True, 100),
    ("results_per_s", "B3 result throughput (results/s, 4 trials)", True, 20_000),
    ("rss_growth_mb", "driver memory growth over 4 x {memory_reports:,} reports (MB)", False, None),
]

COLD = {
    "caliper": """
import tempfile, time
from caliper import tune
def one(config):
    tune.report({"loss": 1.0})
with tempfile.TemporaryDirectory() as storage:  # deleted after the time is taken
    tune.Tuner(one, run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()
    print(time.time())
""",
    "ray": """
import tempfile, time
import ray
from ray import tune
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
def one(config):
    tune.report({"loss": 1.0})
with tempfile.TemporaryDirectory() as storage:  # deleted after the time is taken
    tune.Tuner(one, run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()
    print(time.time())
""",
}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(framework: str, sizes: dict) -> dict:
    """B2, B3 and memory in this process, with ``framework``'s tune module."""
    if framework == "caliper":
        import caliper as rt
        from caliper import tune

        rt.init(num_cpus=2)
        version = rt.__version__
    else:
        import ray as rt
        from ray import tune

        rt.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        version = rt.__version__
    storage = scratch_dir()

    once, many, fit = tune_workloads(tune, storage)

    fit(once, {"x": tune.uniform(0, 1)}, 2)  # warm up: workers, imports
    out: dict = {"version": version}
    n = sizes["trials"]
    out["trials_per_s"] = n / fit(once, {"x": tune.uniform(0, 1)}, n, max_concurrent_trials=2)
    reports = sizes["reports"]
    out["results_per_s"] = 4 * reports / fit(many, {"x": tune.uniform(0, 1), "n": reports}, 4)
    if sizes["memory_reports"]:
        fit(many, {"x": tune.uniform(0, 1), "n": 200}, 4)
        before = _rss_mb()
        fit(many, {"x": tune.uniform(0, 1), "n": sizes["memory_reports"]}, 4)
        out["rss_growth_mb"] = _rss_mb() - before
    rt.shutdown()
    return out


def run_only(framework: str, sizes: dict) -> dict:
    out = {"cold_start_s": cold_start(COLD[framework], sizes["cold_runs"], framework)}
    out.update(measure(framework, sizes))
    return out


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "cold_start_s":
        return f"{value:.3f}"
    if key == "rss_growth_mb":
        return f"{value:+.1f}"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def render(results: dict[str, dict], sizes: dict) -> str:
    """One Markdown table: a column per framework, the target, and caliper against Ray."""
    titles = {
        "caliper": f"caliper {results.get('caliper', {}).get('version', '')}",
        "ray": f"Ray Tune {results.get('ray', {}).get('version', '')}",
    }
    return comparison_table("workload", titles, results, ROWS, sizes, _fmt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray out even if installed")
    parser.add_argument("--ray-full", action="store_true", help="Ray at caliper's sizes (slow)")
    parser.add_argument("--only", choices=FRAMEWORKS, help="internal: measure one, print JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.only:
        if args.only == "ray" and not args.quick and not args.ray_full:
            sizes = RAY_FULL
        emit(run_only(args.only, sizes))
        return 0
    flags = (["--quick"] if args.quick else []) + (["--ray-full"] if args.ray_full else [])
    results, notes = collect_all(__file__, args.no_ray, flags)
    print(render(results, sizes))
    ray_sizes = sizes if (args.quick or args.ray_full) else RAY_FULL
    print(
        f"\nsizes: caliper B2 {sizes['trials']} trials, B3 4 x {sizes['reports']} reports, "
        f"cold start median of {sizes['cold_runs']}"
        + (
            f"; Ray Tune B2 {ray_sizes['trials']} trials, B3 4 x {ray_sizes['reports']} reports"
            if "ray" in results
            else ""
        )
        + f"; {os.cpu_count()} CPUs"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
