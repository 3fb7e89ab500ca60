"""The benchmark scripts run on tiny sizes and print their table (figures are not checked)."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from procs import run_script

TIMEOUT_S = 120

ROW_LABELS = (
    "init() + first task, fresh process (s)",
    "task round trip, median (us)",
    "actor call round trip, median (us)",
    "pipelined actor calls (calls/s)",
    "pipelined tasks (tasks/s)",
    "actor start (ms per actor",
)


def test_core_bench_quick_prints_one_table_without_ray():
    proc = run_script("benchmarks/core_bench.py", "--quick", "--no-ray", timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[0] == "B5 core"
    assert header[1].startswith("caliper ")
    assert header[2:] == ["Pipe floor", "target", "caliper met it"]
    assert not any("Ray" in c for c in header)
    body = table[2:]
    assert len(body) == len(ROW_LABELS)
    for line, label in zip(body, ROW_LABELS, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0].startswith(label)
        for value in cells[1:3]:  # caliper and the floor: a positive number each
            assert re.fullmatch(r"[\d,]+(\.\d+)?", value), line
            assert float(value.replace(",", "")) > 0
    assert "Ray left out (--no-ray)." in proc.stdout


TUNE_ROWS = (
    "B1 cold start: import + 1-trial experiment (s)",
    "B2 trial throughput (trials/s, 2 at a time)",
    "B3 result throughput (results/s, 4 trials)",
    "driver memory growth over 4 x 500 reports (MB)",
)


def test_tune_bench_quick_prints_one_table_without_ray():
    proc = run_script("benchmarks/tune_bench.py", "--quick", "--no-ray", timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[0] == "workload" and header[1].startswith("caliper ")
    assert header[2:] == ["target", "caliper met it"]
    body = table[2:]
    assert len(body) == len(TUNE_ROWS)
    for line, label in zip(body, TUNE_ROWS, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == label
        assert re.fullmatch(r"[+-]?[\d,]+(\.\d+)?", cells[1]), line
    for line in body[:3]:  # times and rates are positive
        assert float(line.split("|")[2].strip().replace(",", "")) > 0
    assert "Ray Tune left out (--no-ray)." in proc.stdout


SCHEDULER_ROWS = (
    "B4 ASHA: 12 trials x up to 9 reports, 2 at a time (s)",
    "B4 trials per second",
    "B4 results reported (ASHA stopped the rest)",
)


def test_scheduler_bench_quick_prints_b4_and_the_search_quality_table():
    proc = run_script("benchmarks/scheduler_bench.py", "--quick", "--no-ray", timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    b4 = [line for line in table if line.startswith("| B4")]
    assert [line.split("|")[1].strip() for line in b4] == list(SCHEDULER_ROWS)
    for line in b4:
        assert float(line.split("|")[2].strip().replace(",", "")) > 0
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.strip("|").split("|")]
        for line in table
    }
    methods = [name for name in rows if name.startswith(("random search", "ASHA", "HyperBand"))]
    assert len(methods) == 5, methods
    for name in methods[1:]:  # 1 seed: as good as full-budget random search or not
        assert re.fullmatch(r"[01]/1", rows[name][6]), rows[name]
    asha = rows[next(name for name in methods if "1/3 budget" in name and "ASHA" in name)]
    assert float(asha[3]) <= 1 / 3  # the budget holds, whatever the outcome
    assert asha[8] in ("yes", "NO")
    assert {"seed", "0", "curves: rung t", "1", "3"} <= set(rows)  # per seed; rungs 1 and 3
    assert "Ray Tune left out (--no-ray)." in proc.stdout


def test_search_quality_quick_prints_b6_and_the_quality_table():
    proc = run_script("benchmarks/search_quality.py", "--quick", timeout=TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    tables = [
        [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()]
        for block in proc.stdout.split("\n\n")
        if block.startswith("|")
    ]
    assert len(tables) == 2, proc.stdout
    b6, quality = tables
    assert b6[0][0] == "workload" and b6[0][2].startswith("caliper ")
    places = ["on disk", "in RAM"] if os.path.isdir("/dev/shm") else ["on disk"]
    assert [row[0].split(", ")[-2:] for row in b6[2:]] == [
        [kind, place]
        for place in places
        for kind in ("optuna TPE", "hyperopt TPE", "random search")
    ]
    for place in places:  # where each ran, and how fast files were created there
        assert re.search(rf"B6 {place}: experiments in \S+, where .* took [\d.]+ ms", proc.stdout)
    assert quality[0][1:5] == [
        "library's own loop, sequential",
        "caliper, 1 at a time",
        "library's own 4-pending mode",
        "caliper, 4 at a time",
    ]
    assert [row[0] for row in quality[2:]] == [
        f"{fn}, {lib}"
        for lib in ("optuna", "hyperopt")
        for fn in ("Branin", "Hartmann-6", "Rastrigin-10")
    ]
    verdict = re.compile(r"yes|yes \(same draws\)|(not significantly worse|NO) \(p=[01]\.\d\d\)")
    for row in quality[2:]:  # four medians, each a number, then three verdicts
        for cell in row[1:5]:
            assert re.fullmatch(r"-?\d+\.\d+", cell), row
        assert len(row) == 8 and all(verdict.fullmatch(cell) for cell in row[5:]), row
        assert row[5] == "yes (same draws)", row  # one at a time: the library's own search
    assert "optuna study.optimize(n_jobs=4), hyperopt fmin(max_queue_len=4)" in proc.stdout
    # one at a time, caliper is the library's own loop draw for draw
    assert all(row[1] == row[2] for row in quality[2:]), quality


def _search_quality():
    spec = importlib.util.spec_from_file_location(
        "search_quality", Path(__file__).parents[2] / "benchmarks" / "search_quality.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(spec.origin).parent))  # its bench_common
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    return module


def test_verdicts_tell_chance_from_a_real_difference():
    module = _search_quality()
    rng = np.random.default_rng(0)
    base = [0.40, 0.41, 0.43, 0.45, 0.48, 0.50, 0.52, 0.55, 0.60, 0.70]
    assert module.no_worse(list(base), list(base), 1.0) == "yes (same draws)"
    assert module.worse_p(base[::-1], base, rng) == 1.0  # same median, other seeds
    assert module.no_worse(base[::-1], base, 1.0) == "yes"
    assert module.worse_p([v - 0.01 for v in base], base, rng) == 1.0
    # the same values but two swapped between the lists: the medians differ by chance
    mine, theirs = [*base[:4], 0.51, *base[5:]], [*base[:5], 0.49, *base[6:]]
    p = module.worse_p(mine, theirs, rng)
    assert 0.05 <= p < 1
    assert module.no_worse(mine, theirs, p) == f"not significantly worse (p={p:.2f})"
    # every value of caliper's above every value of the library's: a real difference
    higher = [v + 1.0 for v in base]
    p = module.worse_p(higher, base, rng)
    assert p < 0.001
    assert module.no_worse(higher, base, p) == f"NO (p={p:.2f})"


def test_holm_adjusts_p_values_for_the_number_of_tests():
    holm = _search_quality().holm
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.3]) == [0.3]
    assert holm([0.4, 0.4, 0.9]) == pytest.approx([1.0, 1.0, 1.0])
