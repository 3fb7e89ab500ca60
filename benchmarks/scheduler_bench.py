"""Workload B4 (BENCHMARKS.md) and the schedulers' search quality, in real experiments.

    python benchmarks/scheduler_bench.py            # full sizes, Ray Tune too when installed
    python benchmarks/scheduler_bench.py --quick    # tiny sizes (what the test runs)
    python benchmarks/scheduler_bench.py --no-ray

B4 ASHA: 100 trials of a trivial trainable that reports up to 27 times, ASHA(max_t=27,
grace_period=1, reduction_factor=3), 2 trials at a time; ``fit()`` is timed after the runtime
is up and warm. Ray Tune runs it at a smaller size by default (about 1 s per trial here); its
time is scaled to the same number of trials, and the sizes are printed under the table.

Search quality: does ASHA do what its paper says? BENCHMARKS.md: "ASHA reaches the best final
loss that full-budget random search reaches, using at most a third of the total training
iterations". Read as the Hyperband paper (Li et al., JMLR 2018) and the ASHA paper (Li et al.,
MLSys 2020) evaluate: methods compared at equal total training resource, with random search, each
config trained to the maximum resource R, as the baseline. So:

- full-budget random search trains N configs to R = max_t (N * R iterations);
- ASHA gets a third of that, N * R // 3 iterations (a stopper ends the experiment there), and
  draws configs from the same stream, in the same order (its first N are random search's), as
  many as it gets through;
- the best final loss a run reaches is the lowest true final loss among the configs it trained
  to R (a loss reached at a lower rung is not a final loss);
- per seed, ASHA is "as good" when its best final loss <= random search's; the gap is ASHA's
  minus random search's. The target is met when the median gap over the seeds is <= 0 (the
  same statistic as the searchers' target in BENCHMARKS.md) and no seed used more than 1/3.

Settings: R = 81, reduction_factor (eta) = 3 and grace_period (r) = 1 = R * eta**-4, the
Hyperband paper's worked example (its Table 1: rungs 1, 3, 9, 27, 81); ASHA with one bracket,
s = 0, the most aggressive early-stopping rate (Ray Tune's default); HyperBand(max_t=81,
reduction_factor=3) gets the same budget and stream, and checkpoints every iteration to be
paused and resumed. N = 100 configs, seeds 0..19 (all of them reported, seed by seed), one trial
at a time, so that asynchronous promotions do not depend on timing and a run is reproducible.

Also shown, from the same runs: random search given the same third of the budget (its first
N // 3 configs), and ASHA on random search's N configs only, without a budget (does it keep
random search's winner, and with how many iterations?).

Learning curves: no benchmark data can be fetched here, so the curves are drawn from the prior
of LC-PFN (Adriaensen et al., "Efficient Bayesian Learning Curve Extrapolation using Prior-Data
Fitted Networks", NeurIPS 2023), a prior over learning curves built from the parametric
families of Domhan et al. (IJCAI 2015) and checked there against real curves (LCBench among
them): an accuracy-like curve in
[0, 1] that is a weighted sum (weights uniform in [0, 1]) of pow3 ``c - a t**-alpha``, ilog2
``c - a / log(t + 1)`` and Janoschek ``a - (a - beta) exp(-k t**delta)`` with that paper's
parameter priors, kept if it ends higher than it starts and stays in [0, 1], plus Gaussian
noise of standard deviation ``exp(N(-4, 1))`` per curve. The loss is one minus it. Configs are
i.i.d. draws, as random search samples them; the noise is fixed per (config, t), so every
method sees the same observations. The printed curve table gives the rank correlation between
the loss at each rung and the final loss, and the share of config pairs whose curves cross
after the rung: how informative the rungs are.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

from bench_common import collect_all, comparison_table, emit, markdown, scratch_dir

FRAMEWORKS = ("caliper", "ray")
FULL = {"trials": 100, "reports": 27, "configs": 100, "seeds": 20, "max_t": 81}
QUICK = {"trials": 12, "reports": 9, "configs": 9, "seeds": 1, "max_t": 9}
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
    storage = scratch_dir()

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

ETA = 3  # reduction_factor of ASHA and HyperBand: the Hyperband paper's example (R=81, eta=3)
CONCURRENCY = 1  # trials at a time: one, so that every run is reproducible
STREAM = 10  # a budgeted run may draw up to STREAM x the random-search configs

RS = "random search, full budget"
RS_THIRD = "random search, 1/3 budget"
ASHA = "ASHA(grace_period=1, reduction_factor=3, brackets=1), 1/3 budget"
HYPERBAND = "HyperBand(reduction_factor=3), 1/3 budget"
ASHA_SAME = "ASHA(same settings), the full-budget configs only"


def learning_curve(seed: int, index: int, max_t: int) -> tuple[list[float], list[float]]:
    """Config ``index`` of seed ``seed``: its true loss and its observed (noisy) validation
    loss at ``t = 1..max_t``, drawn from the LC-PFN prior (module docstring). The same
    ``(seed, index)`` gives the same curve and the same noise in every method and process."""
    import numpy as np

    rng = np.random.default_rng([seed, index])
    x = np.arange(1, max_t + 1, dtype=float)
    while True:  # a weighted sum of pow3, ilog2 and Janoschek curves of an accuracy in [0, 1]
        weights = rng.uniform(0.0, 1.0, 3)
        c, a, alpha = rng.uniform(0.0, 1.25), rng.uniform(-0.6, 0.6), rng.lognormal(0.0, 2.0)
        pow3 = c - a * x**-alpha
        c, a = rng.uniform(0.0, 1.0), rng.uniform(-0.5, 0.5)
        ilog2 = c - a / np.log(x + 1)
        a, beta = rng.uniform(0.0, 1.0), rng.uniform(0.0, 2.0)
        k, delta = rng.lognormal(-2.0, 1.0), rng.lognormal(0.0, 0.5)
        janoschek = a - (a - beta) * np.exp(-k * x**delta)
        y = weights[0] * pow3 + weights[1] * ilog2 + weights[2] * janoschek
        noise_sd = math.exp(rng.normal(-4.0, 1.0))
        if y[-1] > y[0] and np.all((y >= 0) & (y <= 1)):  # improves, stays in range, no NaN
            break
    observed = y + rng.normal(0.0, noise_sd, max_t)
    return (1.0 - y).tolist(), (1.0 - observed).tolist()


def rungs(max_t: int) -> list[int]:
    """ASHA's rungs with grace_period 1: 1, ETA, ETA**2, ... up to ``max_t``."""
    out = [1]
    while out[-1] * ETA <= max_t:
        out.append(out[-1] * ETA)
    return out


def _ranks(values: list[float]) -> list[int]:
    out = [0] * len(values)
    for rank, i in enumerate(sorted(range(len(values)), key=values.__getitem__)):
        out[i] = rank
    return out


def curve_statistics(sizes: dict) -> dict[int, dict[str, float]]:
    """Per rung ``t`` below ``max_t``: the Spearman rank correlation between the observed loss
    at ``t`` and the true final loss, and the share of config pairs ordered differently at
    ``t`` than at the end (their curves cross later), over the full-budget configs, mean over
    seeds."""
    max_t, n = sizes["max_t"], sizes["configs"]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    out: dict[int, dict[str, list[float]]] = {
        t: {"spearman": [], "crossed": []} for t in rungs(max_t)[:-1]
    }
    for seed in range(sizes["seeds"]):
        curves = [learning_curve(seed, i, max_t) for i in range(n)]
        final = [true[-1] for true, _ in curves]
        for t, stats in out.items():
            early = [observed[t - 1] for _, observed in curves]
            squares = sum((a - b) ** 2 for a, b in zip(_ranks(early), _ranks(final), strict=True))
            stats["spearman"].append(1 - 6 * squares / (n * (n * n - 1)))
            crossed = sum((early[i] < early[j]) != (final[i] < final[j]) for i, j in pairs)
            stats["crossed"].append(crossed / len(pairs))
    return {t: {k: statistics.mean(v) for k, v in s.items()} for t, s in out.items()}


def summary(seed: int, trials: list[tuple[int, int]], max_t: int) -> dict:
    """One run from its trials ``(config index, iterations)``: the best final loss it reached
    is the lowest true final loss among the configs it trained to ``max_t``."""
    completed = [index for index, t in trials if t == max_t]
    finals = [learning_curve(seed, index, max_t)[0][-1] for index in completed]
    return {
        "best_final": min(finals, default=math.inf),
        "iterations": sum(t for _, t in trials),
        "configs": len(trials),
        "completed": len(completed),
    }


def quality(sizes: dict) -> dict:
    """Per method, per seed: the best final loss reached, iterations and configs used."""
    import caliper
    from caliper import tune
    from caliper.schedulers import ASHAScheduler, FIFOScheduler, HyperBandScheduler

    class IterationBudget(tune.Stopper):
        """Ends the experiment once ``budget`` results (training iterations) came in."""

        def __init__(self, budget: int) -> None:
            self.budget, self.used = budget, 0

        def __call__(self, trial_id: str, result: dict) -> bool:
            self.used += 1
            return self.used >= self.budget

        def stop_all(self) -> bool:
            return self.used >= self.budget

    caliper.init(num_cpus=CONCURRENCY)
    storage = scratch_dir()
    max_t, n = sizes["max_t"], sizes["configs"]
    # A third of random search's iterations; after the stop the other running trial may
    # still deliver the one result it has in flight.
    budget = n * max_t // 3 - (CONCURRENCY - 1)

    def trainable(config):
        _, observed = learning_curve(config["seed"], config["index"], max_t)
        checkpoint = tune.get_checkpoint()
        start = checkpoint.to_dict()["t"] if checkpoint else 0
        for t in range(start + 1, max_t + 1):
            saved = tune.Checkpoint.from_dict({"t": t}) if config["checkpoints"] else None
            tune.report({"loss": observed[t - 1]}, checkpoint=saved)

    def asha():
        return ASHAScheduler(max_t=max_t, grace_period=1, reduction_factor=ETA, brackets=1)

    methods = {  # name: (scheduler, configs it may draw, iteration budget, checkpoints)
        RS: (FIFOScheduler, n, None, False),
        ASHA: (asha, STREAM * n, budget, False),
        HYPERBAND: (
            lambda: HyperBandScheduler(max_t=max_t, reduction_factor=ETA),
            STREAM * n,
            budget,
            True,  # HyperBand pauses trials and resumes them from their checkpoints
        ),
        ASHA_SAME: (asha, n, None, False),
    }
    out: dict = {name: [] for name in (RS, RS_THIRD, *list(methods)[1:])}
    for seed in range(sizes["seeds"]):
        for name, (make, configs, cap, checkpoints) in methods.items():
            started = time.perf_counter()
            grid = tune.Tuner(
                trainable,
                param_space={
                    "seed": seed,
                    "checkpoints": checkpoints,
                    "index": tune.grid_search(list(range(configs))),  # in this order
                },
                tune_config=tune.TuneConfig(
                    metric="loss",
                    mode="min",
                    max_concurrent_trials=CONCURRENCY,
                    scheduler=make(),
                ),
                run_config=tune.RunConfig(
                    storage_path=storage,
                    verbose=0,
                    stop=IterationBudget(cap) if cap else None,
                ),
            ).fit()
            trials = [(r.config["index"], r.metrics.get("training_iteration", 0)) for r in grid]
            run = summary(seed, trials, max_t)
            run["seconds"] = time.perf_counter() - started
            run["drew_all"] = run["configs"] == configs
            out[name].append(run)
            if name == RS:  # random search given a third of the budget: its first n // 3 configs
                third = summary(seed, [tr for tr in trials if tr[0] < n // 3], max_t)
                out[RS_THIRD].append({**third, "seconds": 0.0, "drew_all": False})
    caliper.shutdown()
    return {"runs": out, "curves": curve_statistics(sizes)}


def quality_table(runs: dict) -> str:
    """Per method: configs, iterations against full-budget random search, the best final
    losses reached, and against random search's per seed (same seed, same config stream)."""
    full = runs[RS]
    rows = [
        [
            "search quality",
            "configs (mean)",
            "trained to max_t (mean)",
            "iterations / full budget (max)",
            "best final loss (median)",
            "gap to full-budget RS (median)",
            "seeds as good as full-budget RS",
            "target",
            "met",
        ]
    ]
    for name, per_seed in runs.items():
        pairs = list(zip(per_seed, full, strict=True))
        as_good = sum(r["best_final"] <= f["best_final"] + 1e-12 for r, f in pairs)
        gap = statistics.median(r["best_final"] - f["best_final"] for r, f in pairs)
        fraction = max(r["iterations"] / f["iterations"] for r, f in pairs)
        target = met = "-"
        if name == ASHA:
            target = "median gap <= 0, <= 1/3"
            met = "yes" if gap <= 0 and fraction <= 1 / 3 else "NO"
        rows.append(
            [
                name,
                f"{statistics.mean(r['configs'] for r in per_seed):,.1f}",
                f"{statistics.mean(r['completed'] for r in per_seed):,.1f}",
                f"{fraction:.3f}",
                f"{statistics.median(r['best_final'] for r in per_seed):.4f}",
                "-" if name == RS else f"{gap:+.4f}",
                "-" if name == RS else f"{as_good}/{len(per_seed)}",
                target,
                met,
            ]
        )
    return markdown(rows)


def seeds_table(runs: dict) -> str:
    """Every seed's best final loss reached, per method (none left out)."""
    names = [RS, RS_THIRD, ASHA, HYPERBAND, ASHA_SAME]
    short = ["RS full", "RS 1/3", "ASHA 1/3", "HyperBand 1/3", "ASHA same configs"]
    rows = [["seed", *short, "ASHA iterations / full", "ASHA configs"]]
    for seed, full in enumerate(runs[RS]):
        asha = runs[ASHA][seed]
        rows.append(
            [
                str(seed),
                *(f"{runs[name][seed]['best_final']:.4f}" for name in names),
                f"{asha['iterations'] / full['iterations']:.3f}",
                str(asha["configs"]),
            ]
        )
    return markdown(rows)


def curves_table(stats: dict) -> str:
    rows = [["curves: rung t", "Spearman(loss at t, final loss)", "pairs that cross after t"]]
    for t, s in stats.items():
        rows.append([str(t), f"{s['spearman']:.3f}", f"{s['crossed']:.1%}"])
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
    flags = (["--quick"] if args.quick else []) + (["--ray-full"] if args.ray_full else [])
    results, notes = collect_all(__file__, args.no_ray, flags)
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
    quality = results["caliper"].get("quality")
    if quality:
        runs = quality["runs"]
        print()
        print(quality_table(runs))
        print()
        print(seeds_table(runs))
        print()
        print(curves_table(quality["curves"]))
        budget = sizes["configs"] * sizes["max_t"]
        print(
            f"\nsearch quality: {sizes['seeds']} seed(s) (0..{sizes['seeds'] - 1}, all shown), "
            f"max_t={sizes['max_t']}, one trial at a time; full-budget random search "
            f"trains {sizes['configs']} configs to max_t ({budget:,} iterations); the 1/3-budget "
            f"runs stop at {budget // 3:,} iterations and draw from the same config stream "
            f"(up to {STREAM * sizes['configs']:,} configs). A run's best final loss is "
            f"the lowest true final loss among the configs it trained to max_t; gap = method "
            f"- full-budget random search, per seed."
        )
        for name in (ASHA, HYPERBAND):
            drew_all = sum(r["drew_all"] for r in runs[name])
            if drew_all:
                print(f"{name}: drew every config of the stream in {drew_all} seed(s)")
    print(
        f"\nsizes: B4 {sizes['trials']} trials x up to {sizes['reports']} reports; "
        f"{os.cpu_count()} CPUs" + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
