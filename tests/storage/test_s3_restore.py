"""The driver of an experiment stored in S3 is SIGKILLed mid-run; a fresh process that never
saw its local staging copy restores it from the URI and finishes it: every iteration once in
each trial's result.json in the bucket, and the interrupted trials go on from their
checkpoints."""

from __future__ import annotations

import csv
import io
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
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp), HOME=str(tmp))
    env["CALIPER_STAGING_DIR"] = str(tmp / "staging")
    return env


def _run_until(script: Path, uri: str, mode: str, env: dict, ready) -> bool:
    """Run the experiment script; SIGKILL its process group once ``ready()`` holds.
    Returns whether it finished by itself first."""
    proc = subprocess.Popen(
        [sys.executable, str(script), uri, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                assert proc.returncode == 0, err.decode()[-3000:]
                return b"FINISHED" in out
            if ready():
                return False
            time.sleep(0.1)
        pytest.fail("the experiment made no progress in 40 s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its trials
            proc.communicate()
    return False


def test_driver_killed_then_restored_from_the_uri(bucket, tmp_path):
    script = tmp_path / "experiment.py"
    script.write_text(SCRIPT.format(steps=STEPS))
    uri = f"s3://{bucket}/runs"

    def checkpoints_named() -> int:
        state = _state(bucket)
        return sum(len(t["checkpoints"]) for t in state["trials"]) if state else 0

    # kill once a state naming a checkpoint is in the bucket, mid-run
    finished = _run_until(
        script, uri, "start", _env(tmp_path / "first"), lambda: checkpoints_named() > 0
    )
    assert not finished, "the experiment ended before it was killed"
    before = _state(bucket)
    assert before["status"] == "RUNNING"
    # restored by a fresh process (another machine: its own TMPDIR and HOME), killed again
    # once it has uploaded more
    named = checkpoints_named()
    _run_until(
        script, uri, "restore", _env(tmp_path / "second"), lambda: checkpoints_named() > named
    )
    done = subprocess.run(
        [sys.executable, str(script), uri, "restore"],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "third"),
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
        rows = csv.DictReader(
            io.StringIO(read(bucket, f"runs/exp/{trial['dirname']}/progress.csv").decode())
        )
        assert [int(row["training_iteration"]) for row in rows] == list(range(1, STEPS + 1))
        resumed += any(r["resumed_from"] > 0 for r in results)
        names = {k.rsplit("/", 2)[-2] for k in keys(bucket, f"runs/exp/{trial['dirname']}/")}
        kept = sorted(n for n in names if n.startswith("checkpoint_"))
        assert len(kept) == 2, kept  # num_to_keep=2, also across the restores
    assert resumed >= 1, "no trial went on from a checkpoint"


def test_ctrl_c_uploads_an_interrupted_state_before_exiting(bucket, tmp_path):
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
    try:
        deadline = time.monotonic() + 40
        while not (_state(bucket) or {}).get("trials") and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGINT)  # the driver only, as a terminal's Ctrl-C would
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    state = _state(bucket)
    assert state["status"] == "INTERRUPTED"  # the last upload ran before the process ended
    for trial in state["trials"]:
        if trial["last_result"]:
            lines = read(bucket, f"runs/exp/{trial['dirname']}/result.json").splitlines()
            assert len(lines) >= trial["last_result"]["training_iteration"]
