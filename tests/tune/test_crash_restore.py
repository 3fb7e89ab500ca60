"""SIGKILL the driver again and again while an experiment runs, restore each time, and the
experiment still ends as an uninterrupted run does, with every iteration once in the files.
A trial whose own process is SIGKILLed resumes from its checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tuning import iterations

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
STEPS = 6

SCRIPT = """
import os, sys, time
from caliper import tune

STEPS = {steps}

def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, STEPS + 1):
        time.sleep(0.08)  # the whole run outlasts several kills
        tune.report(
            {{"loss": config["x"] * step, "step": step}},
            checkpoint=tune.Checkpoint.from_dict({{"step": step}}),
        )

storage, mode = sys.argv[1], sys.argv[2]
path = os.path.join(storage, "exp")
if mode == "start":
    tuner = tune.Tuner(
        train,
        param_space={{"x": tune.grid_search([1, 2, 3, 4]), "y": tune.uniform(0, 1)}},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=1, search_seed=7),
        run_config=tune.RunConfig(name="exp", storage_path=storage, verbose=0),
    )
else:
    tuner = tune.Tuner.restore(path, trainable=train, resume_errored=True)
tuner.fit()
print("FINISHED")
"""


def run(script: Path, storage: Path, mode: str, kill_after: float | None):
    """Run the experiment script; SIGKILL it after ``kill_after`` seconds. Returns whether it
    finished by itself."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(storage), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=kill_after if kill_after is not None else 60)
        assert proc.returncode == 0, err.decode()[-3000:]
        return b"FINISHED" in out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything it started
        proc.communicate()
        return False


def mode(storage: Path) -> str:
    """Restore once the experiment has a state file (a kill during the interpreter's start
    leaves nothing to restore: start again)."""
    state = storage / "exp" / "experiment_state.json"
    return "restore" if state.exists() or Path(f"{state}.prev").exists() else "start"


def final_state(storage: Path) -> list[tuple]:
    with open(storage / "exp" / "experiment_state.json") as f:
        state = json.load(f)
    assert state["status"] == "FINISHED"
    return sorted(
        (t["config"]["x"], round(t["config"]["y"], 12), t["status"], t["last_result"]["loss"],
         t["last_result"]["training_iteration"])
        for t in state["trials"]
    )  # fmt: skip


def test_killing_the_driver_at_many_moments_loses_and_repeats_nothing(tmp_path):
    script = tmp_path / "experiment.py"
    script.write_text(SCRIPT.format(steps=STEPS))
    reference = tmp_path / "reference"
    assert run(script, reference, "start", None)
    expected = final_state(reference)

    crashed = tmp_path / "crashed"
    delays = [0.35, 0.5, 0.45, 0.6, 0.4, 0.55, 0.3, 0.65, 0.5, 0.45, 0.6, 0.7]
    finished = run(script, crashed, "start", delays[0])
    kills = 0 if finished else 1
    for delay in delays[1:]:
        if finished:
            break
        finished = run(script, crashed, mode(crashed), delay)
        kills += 0 if finished else 1
    while not finished:
        finished = run(script, crashed, mode(crashed), None)
    assert kills >= 5, "the experiment ended before it was killed enough times"
    assert final_state(crashed) == expected
    for state in json.loads((crashed / "exp" / "experiment_state.json").read_text())["trials"]:
        from_json, from_csv = iterations(Path(state["path"]))
        assert from_json == list(range(1, STEPS + 1)), state["dirname"]
        assert from_csv == list(range(1, STEPS + 1)), state["dirname"]


def test_a_trial_whose_process_is_killed_resumes_from_its_checkpoint(runtime_factory, tmp_path):
    import cloudpickle

    from caliper import tune

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    runtime_factory(num_cpus=2)
    flag = str(tmp_path / "killed-once")
    results = tune.Tuner(
        kills_itself_once,
        param_space={"flag": flag},
        run_config=tune.RunConfig(
            storage_path=str(tmp_path),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    ).fit()
    [result] = list(results)
    assert os.path.exists(flag)
    assert result.error is None
    assert result.metrics["step"] == STEPS and result.metrics["training_iteration"] == STEPS
    assert iterations(Path(result.path)) == (list(range(1, STEPS + 1)),) * 2


def kills_itself_once(config):
    from caliper import tune

    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, STEPS + 1):
        if step == 4 and not os.path.exists(config["flag"]):
            open(config["flag"], "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        tune.report({"step": step}, checkpoint=tune.Checkpoint.from_dict({"step": step}))


SLOW_END = """
import os, sys, time
from caliper import tune

class SlowEnd(tune.Callback):
    def on_experiment_end(self, trials, **info):
        if os.path.exists(sys.argv[2]):  # restored (callbacks come back with the RunConfig)
            return
        open(sys.argv[2], "w").close()  # the first Ctrl-C was taken: the experiment is ending
        time.sleep(60)  # a slow shutdown that a second Ctrl-C must cut short

def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, 41):
        time.sleep(0.05)
        tune.report({"step": step}, checkpoint=tune.Checkpoint.from_dict({"step": step}))

path = os.path.join(sys.argv[1], "exp")
if os.path.exists(path):
    tuner = tune.Tuner.restore(path, trainable=train)
else:
    tuner = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2])},
        run_config=tune.RunConfig(
            name="exp", storage_path=sys.argv[1], verbose=0, callbacks=[SlowEnd()]
        ),
    )
results = tuner.fit()
print("FINISHED", sorted(r.metrics["step"] for r in results))
"""


def wait_for(predicate, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_a_second_ctrl_c_exits_at_once_and_the_experiment_stays_restorable(tmp_path):
    import time

    script = tmp_path / "experiment.py"
    script.write_text(SLOW_END)
    storage, marker = tmp_path / "storage", tmp_path / "ending"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(storage), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(lambda: list(storage.glob("exp/*/checkpoint_000002")), 30)
        proc.send_signal(signal.SIGINT)  # the first Ctrl-C: stop and save
        wait_for(marker.exists, 30)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)  # the second: out at once
        proc.communicate(timeout=10)
        assert time.monotonic() - started < 5
        assert proc.returncode != 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    restored = subprocess.run(
        [sys.executable, str(script), str(storage), str(marker)],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert restored.returncode == 0, restored.stderr.decode()[-3000:]
    assert "FINISHED [40, 40]" in restored.stdout.decode()
    for trial_dir in (storage / "exp").glob("train_*"):
        from_json, from_csv = iterations(trial_dir)
        assert from_json == from_csv == list(range(1, 41))


AT_MOMENTS = """
import os, sys, tempfile, time
from caliper import tune
from caliper.schedulers import FIFOScheduler

STEPS = 5

class BulkyFIFO(FIFOScheduler):
    '''FIFO with a large saved state: each snapshot takes long enough to be caught.'''

    def __init__(self):
        super().__init__()
        self.seen = 0

    def on_trial_result(self, trial, result):
        self.seen += 1
        return super().on_trial_result(trial, result)

    def state_dict(self):
        return {**super().state_dict(), "seen": self.seen, "ballast": os.urandom(8 << 20)}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.seen = state["seen"]

def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            start = int(open(os.path.join(d, "step")).read())
    for step in range(start + 1, STEPS + 1):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "step"), "w").write(str(step))
            open(os.path.join(d, "weights"), "wb").write(b"w" * (16 << 20))
            tune.report({"loss": config["x"] * step}, checkpoint=tune.Checkpoint.from_directory(d))

path = os.path.join(sys.argv[1], "exp")
if os.path.exists(os.path.join(path, "experiment_state.json")):
    tuner = tune.Tuner.restore(path, trainable=train)
else:
    tuner = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(scheduler=BulkyFIFO(), max_concurrent_trials=2),
        run_config=tune.RunConfig(name="exp", storage_path=sys.argv[1], verbose=0),
    )
tuner.fit()
print("FINISHED")
"""


def kill_when(script: Path, storage: Path, seen, timeout: float = 60) -> bool:
    """Run the script; SIGKILL it the moment ``seen(storage)`` is true. Returns whether it
    finished by itself instead."""
    import time

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(storage)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if seen(storage):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                return False
            assert time.monotonic() < deadline, "the experiment neither ended nor was caught"
            time.sleep(0.0005)
        out, err = proc.communicate()
        assert proc.returncode == 0, err.decode()[-3000:]
        return b"FINISHED" in out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def writing_a_checkpoint(storage: Path) -> bool:
    return any(storage.glob("exp/*/checkpoint_*.partial"))


def writing_a_snapshot(storage: Path) -> bool:
    return any(storage.glob("exp/.tmp-*"))


@pytest.mark.parametrize("moment", [writing_a_checkpoint, writing_a_snapshot])
def test_a_kill_while_writing_a_checkpoint_or_a_snapshot_loses_nothing(tmp_path, moment):
    script = tmp_path / "experiment.py"
    script.write_text(AT_MOMENTS)
    crashed = tmp_path / "crashed"
    kills = 0
    for _ in range(3):
        if kill_when(script, crashed, moment):
            break
        kills += 1
    while not kill_when(script, crashed, lambda storage: False):
        pass
    assert kills >= 2, f"caught {moment.__name__} only {kills} times"
    state = json.loads((crashed / "exp" / "experiment_state.json").read_text())
    assert state["status"] == "FINISHED"
    finals = sorted((t["config"]["x"], t["last_result"]["loss"]) for t in state["trials"])
    assert finals == [(1, 5), (2, 10), (3, 15)]
    for trial in state["trials"]:
        from_json, from_csv = iterations(Path(trial["path"]))
        assert from_json == from_csv == [1, 2, 3, 4, 5], trial["dirname"]
        assert not list(Path(trial["path"]).glob("*.partial"))
