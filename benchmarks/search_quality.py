"""Search quality and workload B6 (BENCHMARKS.md): caliper's OptunaSearch and HyperOptSearch
beside the libraries' own loops.

    python benchmarks/search_quality.py                      # 100 trials, 10 seeds, B6 200 trials
    python benchmarks/search_quality.py --quick              # tiny sizes (what the test runs)
    python benchmarks/search_quality.py --seeds 0            # B6 only
    python benchmarks/search_quality.py --b6-trials 0        # search quality only
    python benchmarks/search_quality.py --trials 50 --seeds 5 --functions branin

Quality: Branin (2-d), Hartmann-6 and Rastrigin-10, minimised. For each seed, Optuna's
``study.optimize`` with ``TPESampler(seed)`` and HyperOpt's ``fmin`` with TPE and
``rstate=default_rng(seed)`` run beside ``Tuner.fit()`` with ``OptunaSearch(seed=seed)`` /
``HyperOptSearch(random_state_seed=seed)``: one trial at a time (``max_concurrent_trials=1``)
and 4 at a time (``max_concurrent_trials=4``). Each cell is the median over the seeds of the
best value found (the functions' minima: Branin 0.397887, Hartmann-6 -3.32237, Rastrigin-10 0).
OptunaSearch's default sampler is ``TPESampler(seed, multivariate=True, constant_liar=True)``,
Optuna 5's own defaults, so one at a time it is ``study.optimize``'s search draw for draw;
HyperOptSearch, one at a time, is ``fmin``'s.

Four at a time, each suggestion sees fewer finished trials (the running ones count as bad
outcomes, a constant liar, in both libraries), so the fair peer of caliper 4 at a time is what a
user running the library alone with 4 trials pending gets, the library's own parallel mode:
``study.optimize(..., n_jobs=4)`` (4 threads over one study, same sampler settings) and
``fmin(..., trials=Trials(), max_queue_len=4)`` (fmin asks for 4 points, each seeing the ones
asked before it as pending, then evaluates the 4; HyperOpt's way of keeping several trials
pending in one process). caliper 4 at a time asks for a trial whenever one of its 4 ends; these
trials end faster than TPE suggests, so several end together and the suggestions after them
see 0 to 3 pending, as in fmin's batches; Optuna's threads see what the other threads have
asked and not yet told. The note under the table gives each mode's mean number of pending
trials per suggestion. Which trial ends first depends on timing, so the 4-pending columns of
caliper and Optuna change from one run to the next (on Rastrigin-10 a median moved by several
units between runs); ``fmin``'s is the same in every run.

The verdicts ask whether caliper's median is no worse than the library's: "yes (same draws)"
when every seed found the same value (one at a time), "yes" when caliper's median is lower or
equal, and otherwise a one-sided permutation test on the difference of the medians (10,000
random splits of the 20 values) tells a difference chance explains ("not significantly
worse", p >= 0.05) from a real one ("NO"); the p-values are adjusted (Holm) for the number
of tests in the table, else one of its 12 would show a chance "NO" in most runs. Two
searches that differ only by the order in which parallel trials end give medians that differ
either way from run to run: on 10 seeds their strict comparison is a coin toss, not a
measurement (caliper's and fmin's 4-pending columns for Branin, 0.634 and 0.477 on 10 seeds,
p=0.03 alone, were 0.524 and 0.518 on 30).

B6 searcher overhead: 200 trivial trials (the trainable reports ``(x - 1)**2`` once), one at a
time, TPE; ``fit()`` timed after the runtime is up, against the library's in-process loop. On a
shared machine both move with its load (caliper more: two processes and files per trial, the
library loop one process and no files), so each is measured 9 times, in turn, and the table
gives the median and the range; the verdict is on the median of the 9 ratios. B6 runs with
the experiments on disk (the temp dir, or ``--b6-storage``) and in RAM (``/dev/shm``, where the
system has it with room to spare), and prints how long a directory and five files took to
create in each place just before: on a disk where that is slow the files are most of a
trivial trial's cost. The quality searches, which are not timed, write their experiments in
RAM too where there is room, so as not to leave the disk slow for whatever runs next.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np
from bench_common import markdown

FULL = {"trials": 100, "seeds": 10, "b6_trials": 200, "b6_repeats": 9}
QUICK = {"trials": 6, "seeds": 1, "b6_trials": 10, "b6_repeats": 1}
LIBRARIES = ("optuna", "hyperopt")

_HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(x: list[float]) -> float:
    x1, x2 = x
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6(x: list[float]) -> float:
    inner = np.sum(_HARTMANN_A * (np.asarray(x) - _HARTMANN_P) ** 2, axis=1)
    return float(-np.sum(_HARTMANN_ALPHA * np.exp(-inner)))


def rastrigin(x: list[float]) -> float:
    return 10 * len(x) + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x)


# name -> (function, bounds per dimension)
FUNCTIONS = {
    "branin": (branin, [(-5.0, 10.0), (0.0, 15.0)]),
    "hartmann6": (hartmann6, [(0.0, 1.0)] * 6),
    "rastrigin10": (rastrigin, [(-5.12, 5.12)] * 10),
}
TITLES = {"branin": "Branin", "hartmann6": "Hartmann-6", "rastrigin10": "Rastrigin-10"}


def names(dims: int) -> list[str]:
    return [f"x{i}" for i in range(dims)]


def evaluate(config: dict) -> float:
    fn, bounds = FUNCTIONS[config["fn"]]
    return fn([config[n] for n in names(len(bounds))])


def trainable(config: dict) -> None:
    from caliper import tune

    tune.report({"value": evaluate(config)})


# -- the libraries' own loops -------------------------------------------------------------------


def optuna_loop(fn_name: str, trials: int, seed: int, at_once: int = 1) -> tuple[float, float]:
    """``(best value, mean number of other trials running when a trial was asked)`` of
    ``study.optimize``; ``at_once`` > 1 is its own parallel mode, ``n_jobs`` threads."""
    import optuna

    fn, bounds = FUNCTIONS[fn_name]

    def objective(trial):
        return fn(
            [
                trial.suggest_float(n, lo, hi)
                for n, (lo, hi) in zip(names(len(bounds)), bounds, strict=True)
            ]
        )

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials, n_jobs=at_once)
    done = study.get_trials(deepcopy=False)
    pending = [
        sum(
            other is not trial
            and other.datetime_start <= trial.datetime_start < other.datetime_complete
            for other in done
        )
        for trial in done
    ]
    return study.best_value, statistics.mean(pending)


def hyperopt_loop(fn_name: str, trials: int, seed: int, at_once: int = 1) -> tuple[float, float]:
    """``(best value, mean number of trials pending when one was suggested)`` of ``fmin``;
    ``at_once`` > 1 is its ``max_queue_len``: it asks TPE for that many points (each seeing the
    ones asked before it as pending) before evaluating them."""
    from hyperopt import JOB_STATE_NEW, JOB_STATE_RUNNING, STATUS_OK, Trials, fmin, hp, tpe

    fn, bounds = FUNCTIONS[fn_name]
    space = {
        n: hp.uniform(n, lo, hi) for n, (lo, hi) in zip(names(len(bounds)), bounds, strict=True)
    }
    pending = []

    def algo(new_ids, domain, store, seed):
        docs = tpe.suggest(new_ids, domain, store, seed)  # random points come several at once
        seen = sum(d["state"] in (JOB_STATE_NEW, JOB_STATE_RUNNING) for d in store.trials)
        pending.extend([seen] * len(docs))
        return docs

    store = Trials()
    fmin(
        lambda c: {"loss": fn([c[n] for n in names(len(bounds))]), "status": STATUS_OK},
        space,
        algo=algo,
        max_evals=trials,
        trials=store,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
        max_queue_len=at_once,
    )
    return min(store.losses()), statistics.mean(pending)


# -- through caliper ----------------------------------------------------------------------------


def searcher(library: str, seed: int):
    from caliper.searchers import BasicVariantGenerator, HyperOptSearch, OptunaSearch

    if library == "random":
        return BasicVariantGenerator(random_state=seed)
    if library == "optuna":
        return OptunaSearch(seed=seed)
    return HyperOptSearch(random_state_seed=seed)


def counting(inner):
    """``inner`` passed through, counting at each suggestion the trials suggested before and
    not yet complete (``.pending``, one number per suggestion)."""
    from caliper.searchers import Searcher

    class PendingCount(Searcher):
        def __init__(self) -> None:
            super().__init__()
            self.searcher, self.live, self.pending = inner, set(), []

        def set_search_properties(self, metric, mode, config, **spec) -> bool:
            return self.searcher.set_search_properties(metric, mode, config, **spec)

        def suggest(self, trial_id):
            config = self.searcher.suggest(trial_id)
            if isinstance(config, dict):
                self.pending.append(len(self.live))
                self.live.add(trial_id)
            return config

        def on_trial_result(self, trial_id, result) -> None:
            self.searcher.on_trial_result(trial_id, result)

        def on_trial_complete(self, trial_id, result=None, error=False) -> None:
            self.live.discard(trial_id)
            self.searcher.on_trial_complete(trial_id, result, error)

        def state_dict(self) -> dict:
            return self.searcher.state_dict()

        def load_state_dict(self, state) -> None:
            self.searcher.load_state_dict(state)

    return PendingCount()


def caliper_fit(library: str, fn_name: str, trials: int, seed: int, at_once: int) -> tuple:
    """``(best value, mean number of trials pending when one was suggested)``."""
    from caliper import tune

    _, bounds = FUNCTIONS[fn_name]
    space = {
        n: tune.uniform(lo, hi) for n, (lo, hi) in zip(names(len(bounds)), bounds, strict=True)
    }
    space["fn"] = fn_name
    search = counting(searcher(library, seed))
    # not timed: in RAM where there is room, since creating and deleting the searches'
    # 12,000 trial directories on this machine's disk would slow creating files there for
    # minutes afterwards (see b6)
    with tempfile.TemporaryDirectory(dir=ram_dir()) as storage:
        results = tune.Tuner(
            trainable,
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="value",
                mode="min",
                num_samples=trials,
                search_alg=search,
                max_concurrent_trials=at_once,
            ),
            run_config=tune.RunConfig(storage_path=storage, name="q", verbose=0),
        ).fit()
        if len(results) != trials or results.num_errors:
            raise RuntimeError(
                f"{library} {fn_name}: {len(results)} trials, errors {results.errors}"
            )
        return results.get_best_result().metrics["value"], statistics.mean(search.pending)


def worse_p(mine: list[float], theirs: list[float], rng: np.random.Generator) -> float:
    """How likely chance alone makes caliper's median at least this much higher than the
    library's (values minimised, one best value per seed): a one-sided permutation test on
    the difference of the medians, 10,000 random splits of the pooled values into two lists
    of these lengths. 1.0 when caliper's median is not higher."""
    observed = statistics.median(mine) - statistics.median(theirs)
    if observed <= 0:
        return 1.0
    pool, n, rounds = np.array(mine + theirs), len(mine), 10_000
    split = np.argsort(rng.random((rounds, len(pool))), axis=1)  # one permutation per row
    shuffled = pool[split]
    diffs = np.median(shuffled[:, :n], axis=1) - np.median(shuffled[:, n:], axis=1)
    return float((np.sum(diffs >= observed - 1e-12) + 1) / (rounds + 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's adjustment of p-values tested together (same order): a table of many tests at
    5% each would show a chance "NO" in most runs."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def no_worse(mine: list[float], theirs: list[float], p: float) -> str:
    """The verdict on "the median best value through caliper is no worse than the library's",
    ``p`` from :func:`worse_p` (adjusted): ``yes (same draws)`` when every seed found the
    same value, ``yes`` when caliper's median is lower or equal, ``not significantly worse
    (p=0.31)`` when higher by what chance explains (p >= 0.05), else ``NO (p=0.02)``."""
    if mine == theirs:
        return "yes (same draws)"
    if statistics.median(mine) <= statistics.median(theirs):
        return "yes"
    return f"not significantly worse (p={p:.2f})" if p >= 0.05 else f"NO (p={p:.2f})"


def quality(libraries, functions, trials: int, seeds: int) -> tuple[list[list[str]], list[str]]:
    """The search-quality table's rows and its notes."""
    rows = [
        [
            f"median best of {trials} trials over {seeds} seeds (lower is better)",
            "library's own loop, sequential",
            "caliper, 1 at a time",
            "library's own 4-pending mode",
            "caliper, 4 at a time",
            "caliper 1 at a time no worse than own sequential loop",
            "caliper 4 at a time no worse than own sequential loop",
            "caliper 4 at a time no worse than library's 4-pending mode",
        ]
    ]
    rng = np.random.default_rng(0)  # the permutation tests'
    compared = []  # (caliper's best values, the library's), three per row
    pending = {}  # what a suggestion saw pending, 4 at a time: name -> mean per search
    for library in libraries:
        for fn_name in functions:
            own, one, own4, four = [], [], [], []
            for seed in range(seeds):
                if library == "optuna":
                    own.append(optuna_loop(fn_name, trials, seed)[0])
                    best, seen = optuna_loop(fn_name, trials, seed, 4)
                    own4.append(best)
                    pending.setdefault("study.optimize(n_jobs=4)", []).append(seen)
                else:
                    own.append(hyperopt_loop(fn_name, trials, seed)[0])
                    best, seen = hyperopt_loop(fn_name, trials, seed, 4)
                    own4.append(best)
                    pending.setdefault("fmin(max_queue_len=4)", []).append(seen)
                one.append(caliper_fit(library, fn_name, trials, seed, 1)[0])
                best, seen = caliper_fit(library, fn_name, trials, seed, 4)
                four.append(best)
                pending.setdefault(f"caliper 4 at a time ({library})", []).append(seen)
                print(f"  {library} {fn_name} seed {seed} done", file=sys.stderr, flush=True)
            rows.append(
                [
                    f"{TITLES[fn_name]}, {library}",
                    *(f"{statistics.median(v):.4f}" for v in (own, one, own4, four)),
                ]
            )
            compared += [(one, own), (four, own), (four, own4)]
    # same draws: nothing to test (nor to count among the tests)
    raw = [None if mine == theirs else worse_p(mine, theirs, rng) for mine, theirs in compared]
    tested = [p for p in raw if p is not None]
    adjusted = iter(holm(tested))
    verdicts = [
        no_worse(*pair, 1.0 if p is None else next(adjusted))
        for pair, p in zip(compared, raw, strict=True)
    ]
    for i, row in enumerate(rows[1:]):
        row += verdicts[3 * i : 3 * i + 3]
    modes = {"optuna": "study.optimize(n_jobs=4)", "hyperopt": "fmin(max_queue_len=4)"}
    notes = [
        "library's own 4-pending mode: "
        + ", ".join(f"{library} {modes[library]}" for library in libraries),
        "trials pending when one was suggested, mean over all searches: "
        + "; ".join(f"{name} {statistics.mean(v):.2f}" for name, v in pending.items()),
        "no worse: caliper's median is lower or equal, or higher by what chance explains "
        "(one-sided permutation test on the difference of the medians, p >= 0.05 after "
        f"Holm's adjustment for the table's {len(tested)} tests)",
    ]
    return rows, notes


def own_b6_loop(library: str, trials: int) -> None:
    """The library's own loop over B6's trivial objective (nothing for random search)."""
    if library == "optuna":
        import optuna

        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        study.optimize(lambda t: (t.suggest_float("x", -5.0, 5.0) - 1.0) ** 2, n_trials=trials)
    elif library == "hyperopt":
        from hyperopt import Trials, fmin, hp, tpe

        fmin(
            lambda c: (c["x"] - 1.0) ** 2,
            {"x": hp.uniform("x", -5.0, 5.0)},
            algo=tpe.suggest,
            max_evals=trials,
            trials=Trials(),
            rstate=np.random.default_rng(0),
            show_progressbar=False,
        )


def spread(values: list[float], fmt: str, unit: str = "") -> str:
    """The median, and the range when there are several values: ``1.20 (1.10-1.40)``."""
    median, low, high = (
        format(v, fmt) + unit for v in (statistics.median(values), min(values), max(values))
    )
    return median if len(values) == 1 else f"{median} ({low}-{high})"


RAM_DIR = "/dev/shm"  # a RAM-backed directory (Linux)
RAM_NEEDED = 512 * 2**20  # B6 keeps ~5,000 trial directories there until its rows are done


def ram_dir() -> str | None:
    """A RAM-backed directory with room for B6's experiments, if the system has one (a
    container's /dev/shm is often 64 MB)."""
    if not os.path.isdir(RAM_DIR):
        return None
    try:
        return RAM_DIR if shutil.disk_usage(RAM_DIR).free >= RAM_NEEDED else None
    except OSError:
        return None


def b6_places(storage: str | None) -> list[tuple[str, str]]:
    """Where B6 writes its experiments: ``(label, directory)``, the disk (``storage``, by
    default the temp dir) and, where the system has one, a RAM-backed directory."""
    disk = storage or tempfile.gettempdir()
    places = [("on disk", disk)]
    ram = ram_dir()
    if ram is not None and os.path.realpath(disk) != ram:
        places.append(("in RAM", ram))
    return places


def probe_files(folder: str, dirs: int = 20) -> float:
    """Milliseconds to create a directory and five small files in ``folder`` (what each trial
    creates), the median of ``dirs`` tries; what is created stays (see :func:`b6`)."""
    times = []
    for i in range(dirs):
        started = time.perf_counter()
        path = os.path.join(folder, f"probe-{i}")
        os.mkdir(path)
        for name in ("params.json", "params.pkl", "result.json", "progress.csv", "events"):
            with open(os.path.join(path, name), "w") as f:
                f.write("x")
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def b6(libraries, trials: int, repeats: int, storage: str | None) -> tuple[list, list[str]]:
    """Workload B6's rows, for experiments on disk and in RAM (see :func:`b6_places`), and a
    note on each place's file speed.

    Seconds in ``fit()`` beside the library's own loop, measured ``repeats`` times in turn
    (caliper, then the library), so that a change in the machine's load between the two hits
    both; each cell is the median and the range over the repeats, the ratio is the median of
    the ratios of each pair, and the verdict is taken on it. Every trial creates a directory
    and five files: where creating files is slow, that is most of a trivial trial's cost,
    and the RAM rows give caliper's own. Each place's experiments are deleted once its rows
    are measured, not after each fit: on ext4 without a journal (this machine's disk),
    creating files within minutes of deleting many makes the kernel skip every recently freed
    inode, which cost up to 3 ms per trial's files when each fit deleted the last one's."""
    rows, notes = [], []
    for label, root in b6_places(storage):
        with tempfile.TemporaryDirectory(dir=root) as folder:
            probe = probe_files(folder)
            rows += _b6_rows(libraries, trials, repeats, folder, label)
        notes.append(
            f"B6 {label}: experiments in {root}, where a directory and five files took "
            f"{probe:.2f} ms to create just before"
        )
    return rows, notes


def _b6_rows(libraries, trials: int, repeats: int, storage: str, label: str) -> list[list[str]]:
    from caliper import tune

    rows = []
    names: list[str] = []  # the experiments, all kept until the end (see b6)
    for library in [*libraries, "random"]:
        space = {"x": tune.uniform(-5.0, 5.0)}

        def once(config):
            tune.report({"loss": (config["x"] - 1.0) ** 2})

        def fit(n: int, space=space, library=library) -> float:
            names.append(f"b6-{library}-{len(names)}")
            started = time.perf_counter()
            tune.Tuner(
                once,
                param_space=space,
                tune_config=tune.TuneConfig(
                    metric="loss",
                    mode="min",
                    num_samples=n,
                    search_alg=searcher(library, 0),
                    max_concurrent_trials=1,
                ),
                run_config=tune.RunConfig(storage_path=storage, name=names[-1], verbose=0),
            ).fit()
            return time.perf_counter() - started

        fit(2)  # warm up: the worker, the library's imports
        own_b6_loop(library, 2)
        mine, own = [], []
        for _ in range(repeats):
            mine.append(fit(trials))
            started = time.perf_counter()
            own_b6_loop(library, trials)
            own.append(time.perf_counter() - started)
        if library == "random":  # caliper's own cost per trial, with no model to ask
            rows.append(
                [f"B6 floor: the same trials, random search, {label}", "-", spread(mine, ".3f")]
                + ["-"] * 3
            )
            continue
        ratios = [m / o for m, o in zip(mine, own, strict=True)]
        rows.append(
            [
                f"B6 {trials} sequential trivial trials, {library} TPE, {label}",
                spread(own, ".3f"),
                spread(mine, ".3f"),
                spread(ratios, ".1f", "x"),
                "<= 2x",
                "yes" if statistics.median(ratios) <= 2 else "NO",
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    parser.add_argument("--trials", type=int, help="trials per search (default 100)")
    parser.add_argument("--seeds", type=int, help="seeds per function (default 10; 0: B6 only)")
    parser.add_argument(
        "--b6-trials", type=int, help="trials of workload B6 (default 200; 0: search quality only)"
    )
    parser.add_argument(
        "--b6-repeats", type=int, help="B6 measurements of each side, in turn (default 9)"
    )
    parser.add_argument(
        "--b6-storage",
        help="the disk directory B6's experiments are written to (default: the temp dir); "
        f"B6 also runs with them in {RAM_DIR} where it exists",
    )
    parser.add_argument(
        "--functions", nargs="+", choices=sorted(FUNCTIONS), default=list(FUNCTIONS)
    )
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for key in ("trials", "seeds", "b6_trials", "b6_repeats"):
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)

    import optuna

    import caliper

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    caliper.init(num_cpus=4)  # logical CPUs: 4 trials at a time on any machine
    tables, notes = [], []
    if sizes["b6_trials"] > 0:
        header = [
            "workload",
            "library's own loop (s)",
            f"caliper {caliper.__version__} (s)",
            "caliper / library",
            "target",
            "caliper met it",
        ]
        rows, notes = b6(args.libraries, sizes["b6_trials"], sizes["b6_repeats"], args.b6_storage)
        tables.append([header, *rows])
    if sizes["seeds"] > 0:
        rows, quality_notes = quality(
            args.libraries, args.functions, sizes["trials"], sizes["seeds"]
        )
        tables.append(rows)
        notes += quality_notes
    caliper.shutdown()
    print("\n\n".join(markdown(table) for table in tables))
    print()
    for note in notes:
        print(note)
    measured = []
    if sizes["b6_trials"] > 0:
        measured.append(
            f"B6 {sizes['b6_trials']} trials x {sizes['b6_repeats']} repeats (median (range))"
        )
    if sizes["seeds"] > 0:
        measured.append(f"{sizes['trials']} trials x {sizes['seeds']} seeds per function")
    print(
        f"sizes: {'; '.join(measured) or 'nothing measured'}; caliper runs on 4 logical CPUs"
        + (" (--quick: figures are indicative only)" if args.quick else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
