"""The driver of an experiment stored in S3 is SIGKILLed mid-run; a fresh process that never
saw its local staging copy restores it from the URI and finishes it: every iteration once in
each trial's result.json in the bucket, and the interrupted trials go on from their
checkpoints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storage_helpers import keys, read

pytestmark = pytest.mark.timeout(110)

ROOT = Path(__file__).resolve().parents[2]
STEPS = 10

SCRIPT = """
import sys, time
from caliper import tune

STEPS = {steps}

def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, STEPS + 1):
        time.sleep(0.25)
        tune.report(
            {{"loss": config["x"] * step, "step": step, "resumed_from": start}},
            checkpoint=tune.Checkpoint.from_dict({{"step": step}}),
        )

uri, mode = sys.argv[1], sys.argv[2]
if mode == "start":
    tuner = tune.Tuner(
        train,
        param_space={{"x": tune.grid_search([1, 2, 3])}},
        tune_config=tune.TuneConfig(metric="loss", mode="min", max_concurrent_trials=2),
        run_config=tune.RunConfig(
            name="exp", storage_path=uri, verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        ),
    )
else:
    tuner = tune.Tuner.restore(uri + "/exp", trainable=train)
results = tuner.fit()
print("FINISHED", len(results), results.num_errors)
"""


def _state(bucket: str) -> dict | None:
    try:
        return json.loads(read(bucket, "runs/exp/experiment_state.json"))
    except Exception:
        return None


def _env(tmp: Path) -> dict:
    """A process of its own machine: its own temporary directory and home."""
    tmp.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp), HOME=str(tmp))


def test_driver_killed_then_restored_from_the_uri(bucket, tmp_path):
    script = tmp_path / "experiment.py"
    script.write_text(SCRIPT.format(steps=STEPS))
    uri = f"s3://{bucket}/runs"
    proc = subprocess.Popen(
        [sys.executable, str(script), uri, "start"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path / "first"),
        start_new_session=True,
    )
    try:  # kill once a state naming checkpoints is in the bucket, mid-run
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            state = _state(bucket)
            if state and any(t["checkpoints"] for t in state["trials"]):
                break
            assert proc.poll() is None, proc.communicate()[1].decode()[-3000:]
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint reached the bucket in 40 s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    before = _state(bucket)
    assert before["status"] == "RUNNING"

    done = subprocess.run(
        [sys.executable, str(script), uri, "restore"],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "second"),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FINISHED 3 0" in done.stdout
    after = _state(bucket)
    assert after["status"] == "FINISHED"
    losses = sorted(t["last_result"]["loss"] for t in after["trials"])
    assert losses == [STEPS, 2 * STEPS, 3 * STEPS]
    resumed = 0
    for trial in after["trials"]:
        lines = read(bucket, f"runs/exp/{trial['dirname']}/result.json").splitlines()
        results = [json.loads(line) for line in lines]
        assert [r["training_iteration"] for r in results] == list(range(1, STEPS + 1))
        starts = {r["resumed_from"] for r in results}
        resumed += any(start > 0 for start in starts)
        names = {k.rsplit("/", 2)[-2] for k in keys(bucket, f"runs/exp/{trial['dirname']}/")}
        kept = sorted(n for n in names if n.startswith("checkpoint_"))
        assert len(kept) == 2, (kept, before, starts)  # num_to_keep=2, also across the restore
    assert resumed >= 1, "no trial went on from a checkpoint"
