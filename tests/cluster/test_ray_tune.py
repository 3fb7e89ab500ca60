"""Tuner.fit on a real Ray cluster: the same code as on one machine, trials on the nodes."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle
import pytest

import caliper
from caliper import core, tune
from caliper.schedulers import ASHAScheduler

pytestmark = pytest.mark.timeout(300)  # the first test also starts the cluster
SCRIPT = Path(__file__).with_name("node_failure_driver.py")
# the nodes cannot import this test module: its functions travel by value, as a script's do
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = int(Path(folder, "step").read_text())
    for step in range(start, 8):
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "step").write_text(str(step + 1))
            tune.report(
                {"loss": config["x"] / (step + 1), "raylet": os.getppid()},
                checkpoint=tune.Checkpoint.from_directory(folder),
            )


@core.remote
def helper_raylet():
    return os.getppid()


def train_in_group(config):
    """A trial with two bundles: its process in the first, a helper task in the second."""
    group = tune.get_context().get_placement_group()
    strategy = core.PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=1)
    helper = core.get(helper_raylet.options(scheduling_strategy=strategy).remote())
    tune.report({"loss": config["x"], "own": os.getppid(), "helper": helper})


def test_tuner_with_asha_and_checkpoints(on_cluster, tmp_path):
    tuner = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([0.1, 0.4, 0.7, 1.0, 1.3, 1.6])},
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", scheduler=ASHAScheduler(max_t=8, grace_period=2)
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0 and len(results) == 6
    iterations = sorted(r.metrics["training_iteration"] for r in results)
    assert iterations[-1] == 8 and iterations[0] < 8  # ASHA stopped some early
    assert len({r.metrics["raylet"] for r in results}) == 2  # trials ran on both nodes
    best = results.get_best_result()
    assert best.config["x"] == 0.1
    with best.checkpoint.as_directory() as folder:
        assert Path(folder, "step").read_text() == "8"


def test_placement_group_trial(on_cluster, tmp_path):
    factory = tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    tuner = tune.Tuner(
        tune.with_resources(train_in_group, factory),
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="pg", verbose=0),
    )
    results = tuner.fit()
    assert results.num_errors == 0
    for result in results:
        assert result.metrics["own"] != result.metrics["helper"]  # two nodes: STRICT_SPREAD


def _trial_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_trials_of_a_dead_node_continue_elsewhere(ray_cluster, tmp_path):
    """A node dies mid-run: its trials fail, are retried on the other nodes from their last
    checkpoint (FailureConfig), and the experiment completes."""
    extra = ray_cluster.add_node(num_cpus=2, num_gpus=0)
    log = tmp_path / "steps.jsonl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    import subprocess

    driver = subprocess.Popen(
        [sys.executable, str(SCRIPT), ray_cluster.address, str(tmp_path), str(log)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        killed = False
        while time.monotonic() < deadline and driver.poll() is None:
            on_extra = [e for e in _trial_log(log) if extra.owns(e["pid"]) and e["step"] >= 2]
            if on_extra:
                extra.kill()
                killed = True
                break
            time.sleep(0.1)
        assert killed, "no trial ran on the extra node: " + str(_trial_log(log)[:5])
        try:
            output, _ = driver.communicate(timeout=90)  # ~20 s when it works
        except subprocess.TimeoutExpired:  # what the driver printed says where it hung
            driver.kill()
            output, _ = driver.communicate()
            pytest.fail(f"the experiment did not end 90 s after the node died:\n{output[-3000:]}")
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, output[-3000:]
    summary = json.loads(output.strip().splitlines()[-1])
    assert summary["errors"] == 0
    assert summary["iterations"] == [12] * 6
    assert summary["failures"] >= 1  # the trials of the dead node failed once
    steps = _trial_log(log)
    resumed = [e for e in steps if e["resumed_from"] > 0]
    assert resumed, "no trial continued from a checkpoint"
    for trial_id, count in summary["result_lines"].items():
        assert count == 12, f"{trial_id}: {count} results in result.json, not 12"


def test_tune_run_on_the_cluster(ray_cluster, tmp_path):
    from procs import QUICKSTART, run_cli

    proc = run_cli(
        "run", str(QUICKSTART), "--address", ray_cluster.address,
        "--storage-path", str(tmp_path), "--name", "cli", "--set", "tune_config.num_samples=1",
        timeout=220,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = json.loads((tmp_path / "cli" / "experiment_state.json").read_text())
    statuses = [t["status"] for t in state["trials"]]
    assert len(statuses) >= 1 and set(statuses) == {"TERMINATED"}


def three_reports(config):
    for i in range(3):
        tune.report({"score": config["x"] * i})


def init_through_client(address: str) -> None:
    """``caliper.init(address="ray://...")``, tried once more if Ray's client proxy fails to
    start its server for this client (seen once in a CI run, in Ray's own start-up, before
    caliper took part: "Starting Ray client server failed")."""
    try:
        caliper.init(address=address)
    except ConnectionAbortedError as exc:
        if "Starting Ray client server failed" not in str(exc):
            raise
        time.sleep(1)
        caliper.init(address=address)


def test_a_tuner_through_ray_client(ray_cluster, tmp_path):
    """Through Ray Client (ray://) every result reaches the driver, the last one last (Ray
    ran a worker's posts to the hub out of order there: a trial ended at its first result)."""
    for _ in range(3):  # it went wrong in about half the runs
        init_through_client(ray_cluster.client_address)
        try:
            results = tune.Tuner(
                three_reports,
                param_space={"x": tune.grid_search([1, 2])},
                run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
            ).fit()
        finally:
            caliper.shutdown()
        assert results.num_errors == 0
        assert sorted(r.metrics["training_iteration"] for r in results) == [3, 3]
        assert sorted(r.metrics["score"] for r in results) == [2, 4]
