"""Workload B4 (BENCHMARKS.md) and the schedulers' search quality, in real experiments.

    python benchmarks/scheduler_bench.py            # full sizes, Ray Tune too when installed
    python benchmarks/scheduler_bench.py --quick    # tiny sizes (what the test runs)
    python benchmarks/scheduler_bench.py --no-ray

B4 ASHA: 100 trials of a trivial trainable that reports up to 27 times, ASHA(max_t=27,
grace_period=1, reduction_factor=3), 2 trials at a time; ``fit()`` is timed after the runtime
is up and warm. Ray Tune runs it at a smaller size by default (about 1 s per trial here); its
time is scaled to the same number of trials, and the sizes are printed under the table.

Search quality: learning curves with known final losses, ``loss(t) = final + (start - final) *
exp(-t / tau)``, one per config, drawn from a seed: ``final`` uniform in [0.05, 1],
``start = final + 1 + 0.2 z`` and ``tau`` uniform in [2, 4], so early ranks are informative
but noisy (curves cross). The same configs (a grid over their indices, so the same order) run
three ways: every config to max_t = 27 (random search at full budget), ASHA(max_t=27,
grace_period=1, reduction_factor=3) and HyperBand(max_t=27, reduction_factor=3); each trainable
checkpoints every iteration (HyperBand resumes from it). The target: ASHA finds the best final
loss that full-budget random search finds, with at most a third of its training iterations.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import collect, comparison_table, emit, markdown

FRAMEWORKS = ("caliper", "ray")
FULL = {"trials": 100, "reports": 27, "configs": 98, "seeds": 5, "max_t": 27}
QUICK = {"trials": 12, "reports": 9, "configs": 17, "seeds": 1, "max_t": 9}  # full brackets
RAY_FULL = {"trials": 30, "reports": 27, "configs": 0, "seeds": 0, "max_t": 27}

ROWS = [
    ("b4_s", "B4 ASHA: {trials} trials x up to {reports} reports, 2 at a time (s)", False, 2.0),
    ("b4_trials_per_s", "B4 trials per second", True, None),
    ("b4_results", "B4 results reported (ASHA stopped the rest)", False, None),
]


def b4(framework: str, sizes: dict) -> dict:
    """B4 in this process with ``framework``'s tune module and ASHA."""
    if framework == "caliper":
        import caliper as rt
        from caliper import tune
        from caliper.schedulers import ASHAScheduler

        rt.init(num_cpus=2)
    else:
        import ray as rt
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler

        rt.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    storage = tempfile.mkdtemp()

    def trainable(config):
        for i in range(1, config["reports"] + 1):
            tune.report({"loss": config["x"] + 1.0 / i})

    def fit(trials: int, reports: int) -> tuple[float, int]:
        started = time.perf_counter()
        grid = tune.Tuner(
            trainable,
            param_space={"x": tune.uniform(0, 1), "reports": reports},
            tune_config=tune.TuneConfig(
                metric="loss",
                mode="min",
                num_samples=trials,
                max_concurrent_trials=2,
                scheduler=ASHAScheduler(max_t=reports, grace_period=1, reduction_factor=3),
            ),
            run_config=tune.RunConfig(storage_path=storage, verbose=0),
        ).fit()
        elapsed = time.perf_counter() - started
        return elapsed, sum(r.metrics["training_iteration"] for r in grid)

    fit(2, 3)  # warm up: workers, imports
    trials = sizes["trials"]
    elapsed, results = fit(trials, sizes["reports"])
    out = {"version": rt.__version__, "trials": trials, "b4_results": results}
    out["b4_trials_per_s"] = trials / elapsed
    out["b4_s"] = elapsed
    rt.shutdown()
    return out


# -- search quality -----------------------------------------------------------------------------


def curves(n: int, seed: int) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        final = float(rng.uniform(0.05, 1.0))
        start = final + 1.0 + 0.2 * float(rng.standard_normal())
        out.append({"final": final, "start": start, "tau": float(rng.uniform(2.0, 4.0))})
    return out


def loss_at(curve: dict, t: int) -> float:
    return curve["final"] + (curve["start"] - curve["final"]) * math.exp(-t / curve["tau"])


def quality(sizes: dict) -> dict:
    """Best final loss found and iterations used, per method and seed."""
    import caliper
    from caliper import tune
    from caliper.schedulers import ASHAScheduler, FIFOScheduler, HyperBandScheduler

    caliper.init(num_cpus=2)
    storage = tempfile.mkdtemp()

    max_t = sizes["max_t"]

    def trainable(config):
        checkpoint = tune.get_checkpoint()
        start = checkpoint.to_dict()["t"] if checkpoint else 0
        for t in range(start + 1, max_t + 1):
            tune.report(
                {"loss": loss_at(config["curve"], t)},
                checkpoint=tune.Checkpoint.from_dict({"t": t}),
            )

    methods = {
        "random search, full budget": FIFOScheduler,
        "ASHA": lambda: ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=3),
        "HyperBand": lambda: HyperBandScheduler(max_t=max_t, reduction_factor=3),
    }
    out: dict = {name: [] for name in methods}
    for seed in range(sizes["seeds"]):
        space = curves(sizes["configs"], seed)
        for name, make in methods.items():
            started = time.perf_counter()
            grid = tune.Tuner(
                trainable,
                param_space={"curve": tune.grid_search(space)},
                tune_config=tune.TuneConfig(
                    metric="loss", mode="min", max_concurrent_trials=2, scheduler=make()
                ),
                run_config=tune.RunConfig(storage_path=storage, verbose=0),
            ).fit()
            finished = [r for r in grid if r.metrics.get("training_iteration") == max_t]
            out[name].append(
                {
                    "best_final": min((r.metrics["loss"] for r in finished), default=math.inf),
                    "true_best": min(loss_at(c, max_t) for c in space),
                    "iterations": sum(r.metrics["training_iteration"] for r in grid),
                    "seconds": time.perf_counter() - started,
                }
            )
    caliper.shutdown()
    return out


def quality_table(runs: dict) -> str:
    full = runs["random search, full budget"]
    rows = [
        [
            "search quality",
            "best final loss (median)",
            "found the best",
            "iterations (mean)",
            "of full budget",
            "target",
            "met",
            "fit() s (mean)",
        ]
    ]
    for name, per_seed in runs.items():
        found = sum(
            math.isclose(r["best_final"], f["best_final"], rel_tol=1e-12)
            for r, f in zip(per_seed, full, strict=True)
        )
        fraction = statistics.mean(
            r["iterations"] / f["iterations"] for r, f in zip(per_seed, full, strict=True)
        )
        target = "-"
        met = "-"
        if name == "ASHA":
            target = "best found, <= 1/3"
            met = "yes" if found == len(per_seed) and fraction <= 1 / 3 else "NO"
        rows.append(
            [
                name,
                f"{statistics.median(r['best_final'] for r in per_seed):.4f}",
                f"{found}/{len(per_seed)} seeds",
                f"{statistics.mean(r['iterations'] for r in per_seed):,.0f}",
                f"{fraction:.3f}",
                target,
                met,
                f"{statistics.mean(r['seconds'] for r in per_seed):.2f}",
            ]
        )
    return markdown(rows)


# -- driver -------------------------------------------------------------------------------------


def run_only(framework: str, sizes: dict) -> dict:
    out = b4(framework, sizes)
    if framework == "caliper" and sizes["seeds"]:
        out["quality"] = quality(sizes)
    return out


def _fmt(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key == "b4_results":
        return f"{value:,.0f}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--no-ray", action="store_true", help="leave Ray out even if installed")
    parser.add_argument("--ray-full", action="store_true", help="Ray at caliper's sizes (slow)")
    parser.add_argument("--only", choices=FRAMEWORKS, help="internal: measure one, print JSON")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.only:
        if args.only == "ray":
            sizes = {**(sizes if args.quick or args.ray_full else RAY_FULL), "seeds": 0}
        emit(run_only(args.only, sizes))
        return 0
    names = ["caliper"]
    notes = []
    if args.no_ray:
        notes.append("Ray Tune left out (--no-ray).")
    elif importlib.util.find_spec("ray") is None:
        notes.append("Ray Tune left out: `import ray` fails here (pip install 'ray[tune]').")
    else:
        names.append("ray")
    results = {}
    for name in names:
        print(f"measuring {name}...", file=sys.stderr, flush=True)
        flags = (["--quick"] if args.quick else []) + (["--ray-full"] if args.ray_full else [])
        try:
            results[name] = collect(__file__, name, flags)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            if name == "caliper":
                raise
            notes.append(f"{name} left out: {str(exc).splitlines()[0]}")
    if "ray" in results and results["ray"]["trials"] != sizes["trials"]:
        ray = results["ray"]
        measured = ray["trials"]
        ray["b4_s"] *= sizes["trials"] / measured  # scaled to caliper's number of trials
        ray["b4_results"] = None
        notes.append(
            f"Ray Tune ran B4 with {measured} trials; its time is scaled to {sizes['trials']} "
            f"(--ray-full runs it at full size)."
        )
    titles = {
        "caliper": f"caliper {results['caliper']['version']}",
        "ray": f"Ray Tune {results.get('ray', {}).get('version', '')}",
    }
    print(comparison_table("workload", titles, results, ROWS, sizes, _fmt))
    quality_runs = results["caliper"].get("quality")
    if quality_runs:
        print()
        print(quality_table(quality_runs))
        print(
            f"\nsearch quality: {sizes['configs']} configs, max_t={sizes['max_t']}, "
            f"{sizes['seeds']} seed(s) of curves, 2 trials at a time"
        )
    print(
        f"\nsizes: B4 {sizes['trials']} trials x up to {sizes['reports']} reports; "
        f"{os.cpu_count()} CPUs" + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
