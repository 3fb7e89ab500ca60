"""``tune restore`` after an interrupted run, ``tune ls`` and ``tune best`` on experiments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from procs import ROOT, TIMEOUT_S, run_cli

from caliper import tune
from caliper.cli import main

SLOW = """import time
from caliper import tune


def train(config):
    checkpoint = tune.get_checkpoint()
    start = checkpoint.to_dict()["step"] if checkpoint else 0
    for step in range(start + 1, config["steps"] + 1):
        time.sleep(0.05)
        tune.report({"loss": config["x"] / step, "step": step},
                    checkpoint=tune.Checkpoint.from_dict({"step": step}))
"""
EXPERIMENT = """trainable: slow.py:train
param_space:
  x: {grid_search: [1, 2, 3]}
  steps: 30
tune_config: {metric: loss, mode: min, max_concurrent_trials: 2}
run_config: {name: slow, verbose: 1}
"""


def _wait_for_results(state_file, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with open(state_file) as f:
                trials = json.load(f)["trials"]
            if any(t.get("num_results", 0) >= 3 for t in trials):
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    pytest.fail("the experiment never reported")


def test_restore_after_an_interrupted_run(tmp_path, capsys, shutdown_runtime, monkeypatch):
    (tmp_path / "slow.py").write_text(SLOW)
    (tmp_path / "exp.yaml").write_text(EXPERIMENT)
    path = tmp_path / "results" / "slow"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "caliper", "run", "exp.yaml", "--storage-path", "results"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_results(path / "experiment_state.json", time.monotonic() + TIMEOUT_S)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert f"tune restore {path}" in out
    before = tune.ResultGrid.from_path(path)
    assert any(r.metrics.get("step", 0) < 30 for r in before)

    monkeypatch.chdir(ROOT)  # the spec is resolved from where `tune run` ran
    assert main(["restore", str(path)]) == 0
    assert "tune best" in capsys.readouterr().out
    after = tune.ResultGrid.from_path(path)
    assert len(after) == 3
    assert all(r.metrics["step"] == 30 for r in after)
    assert after.num_errors == 0


def _python_experiment(storage) -> str:
    def train(config):
        tune.report({"score": config["x"] * 10})

    tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(metric="score", mode="max"),
        run_config=tune.RunConfig(name="py", storage_path=str(storage), verbose=0),
    ).fit()
    return str(storage / "py")


def test_experiment_started_from_python(tmp_path, capsys, shutdown_runtime):
    path = _python_experiment(tmp_path)
    assert main(["restore", path]) == 2
    err = capsys.readouterr().err
    assert "--trainable" in err and path in err and len(err.strip().splitlines()) == 1

    (tmp_path / "mod.py").write_text(
        "from caliper import tune\n\ndef train(config):\n    tune.report({'score': 1})\n"
    )
    assert main(["restore", path, "--trainable", str(tmp_path / "mod.py") + ":train"]) == 0
    capsys.readouterr()

    assert main(["best", path]) == 0  # metric and mode from the experiment
    data = json.loads(capsys.readouterr().out)
    assert data["config"] == {"x": 3} and data["value"] == 30 and data["mode"] == "max"

    assert main(["best", path, "--metric", "score", "--mode", "min", "--format", "yaml"]) == 0
    import yaml

    data = yaml.safe_load(capsys.readouterr().out)
    assert data["config"] == {"x": 1} and data["metrics"]["score"] == 10

    assert main(["ls", path]) == 0
    out = capsys.readouterr().out
    assert out.count("TERMINATED") == 3 and "score" in out


def test_ls_default_storage_path_and_bad_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["ls"]) == 0
    assert "No experiments" in capsys.readouterr().out
    (tmp_path / "caliper_results" / "empty").mkdir(parents=True)
    assert main(["ls"]) == 0
    assert "No experiments" in capsys.readouterr().out

    assert main(["ls", str(tmp_path / "nowhere")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert main(["best", str(tmp_path)]) == 2
    assert "not an experiment directory" in capsys.readouterr().err
    assert main(["restore", str(tmp_path), "--resume-errored", "--restart-errored"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_best_needs_a_metric(tmp_path):
    (tmp_path / "t.py").write_text("def f(config):\n    return {'a': config['x']}\n")
    (tmp_path / "e.yaml").write_text(
        "trainable: t.py:f\nparam_space: {x: {grid_search: [1, 2]}}\nrun_config: {verbose: 0}\n"
    )
    proc = run_cli("run", "e.yaml", "--storage-path", "r", "--name", "e", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("best", str(tmp_path / "r" / "e"))
    assert proc.returncode == 2 and "--metric" in proc.stderr
    proc = run_cli("best", str(tmp_path / "r" / "e"), "--metric", "a", "--mode", "max")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["config"] == {"x": 2}
