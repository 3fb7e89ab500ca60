"""Every example runs as a user would run it, in a fresh process, and prints what it claims."""

from __future__ import annotations

import math
import re

import pytest
from procs import run_script

TIMEOUT_S = 90


def run_example(name: str) -> str:
    proc = run_script(f"examples/{name}", timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def core_tour() -> str:
    return run_example("core_tour.py")


def _line(output: str, pattern: str) -> re.Match:
    match = re.search(pattern, output, re.MULTILINE)
    assert match, f"no line matching {pattern!r} in:\n{output}"
    return match


def test_tour_estimates_pi_from_tasks_consumed_as_they_finish(core_tour):
    progress = re.findall(r"^  (\d) of 4 tasks done", core_tour, re.MULTILINE)
    assert progress == ["1", "2", "3", "4"]
    estimate = float(_line(core_tour, r"^1\. pi over 4 tasks: ([\d.]+)$").group(1))
    assert math.isclose(estimate, math.pi, abs_tol=0.01)


def test_tour_actor_keeps_state(core_tour):
    _line(core_tour, r"^2\. running means from one actor \(pid \d+\): \[3\.0, 4\.0, 6\.0\]$")


def test_tour_put_value_reaches_tasks(core_tour):
    _line(core_tour, r"^3\. column means: \[4\.5, 5\.5, 6\.5\]$")


def test_tour_placement_group_hosts_two_actors(core_tour):
    _line(core_tour, r"^4\. placement group of 2 bundles \(PACK\):$")
    pids = re.findall(r"^  shard [01] in pid (\d+)$", core_tour, re.MULTILINE)
    assert len(pids) == 2 and len(set(pids)) == 2
    _line(core_tour, r"^  after removal, CPUs available: \d+")


def test_tour_half_gpu_actors_share_devices_and_others_see_none(core_tour):
    found = re.findall(
        r"^  actor (\d): CUDA_VISIBLE_DEVICES='([^']*)' +get_gpu_ids\(\)=\[(.*)\]$",
        core_tour,
        re.MULTILINE,
    )
    assert [int(i) for i, _, _ in found] == [0, 1, 2, 3, 4]
    half = [cuda for _, cuda, _ in found[:4]]
    assert sorted(half.count(c) for c in set(half)) == [2, 2]  # two per device, two devices
    assert all(cuda and "," not in cuda for cuda in half)
    assert found[4][1:] == ("", "")


def test_tour_failures_are_typed_and_recovered(core_tour):
    _line(
        core_tour, r"^6\. except ValueError caught TaskError\(ValueError\) \(a TaskError: True\)$"
    )
    _line(core_tour, r"^  WorkerCrashedError: exit code 3$")
    _line(core_tour, r"^  flaky task with max_retries=2: succeeded on a retry$")
    first = _line(core_tour, r"^  Fragile actor \(pid, calls so far\): \((\d+), 1\)$").group(1)
    second = _line(core_tour, r"^  restarted, with fresh state: \((\d+), 1\)$").group(1)
    assert first != second
    _line(core_tour, r"^  after kill\(\): actor Fragile is dead")


def test_tour_leaves_no_worker_behind(core_tour):
    _line(core_tour, r"^7\. after shutdown\(\): 0 of \d+ worker processes alive$")
