"""``tune run``: the quickstart file with overrides, dry runs, and what a run leaves behind."""

from __future__ import annotations

import json
import os

from procs import QUICKSTART, ROOT, run_cli

from caliper.cli import main
from caliper.tune import ResultGrid

SMALL = ["--set", "tune_config.num_samples=1", "--set", "param_space.steps=3"]


def test_quickstart_runs_with_overrides(tmp_path, capsys, shutdown_runtime, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(["run", str(QUICKSTART), *SMALL, "--storage-path", str(tmp_path), "--name", "qs"])
    out = capsys.readouterr().out
    assert code == 0, out
    path = tmp_path / "qs"
    assert f"tune best {path}" in out
    assert "Best trial" in out  # the end summary of the progress display
    grid = ResultGrid.from_path(path)
    assert len(grid) == 2  # one sample per grid value
    assert sorted(r.config["width"] for r in grid) == [32, 64]
    assert all(r.metrics["training_iteration"] == 3 for r in grid)
    spec = json.loads((path / "cli_trainable.json").read_text())
    assert spec["trainable"] == "examples/quickstart.py:objective"
    assert spec["resources_per_trial"] == {"cpu": 1}


def test_run_as_a_user_does_then_ls_and_best(tmp_path):
    proc = run_cli(
        "run", "examples/quickstart.yaml", *SMALL, "--set", "run_config.verbose=0",
        "--storage-path", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "quickstart"
    assert f"Results: {path}" in proc.stdout
    assert "Best trial:" in proc.stdout

    ls = run_cli("ls", str(tmp_path))
    assert ls.returncode == 0, ls.stderr
    assert "quickstart" in ls.stdout and "FINISHED" in ls.stdout and "2 TERMINATED" in ls.stdout

    trials = run_cli("ls", str(path))
    assert trials.returncode == 0, trials.stderr
    rows = [line for line in trials.stdout.splitlines() if "TERMINATED" in line]
    assert len(rows) == 2
    assert "loss" in trials.stdout and "width" in trials.stdout

    best = run_cli("best", str(path), "--format", "json")
    assert best.returncode == 0, best.stderr
    data = json.loads(best.stdout)
    losses = [r.metrics["loss"] for r in ResultGrid.from_path(path)]
    assert data["value"] == min(losses) == data["metrics"]["loss"]
    assert data["metric"] == "loss" and data["mode"] == "min"
    assert set(data["config"]) == {"lr", "momentum", "activation", "width", "steps"}


def test_dry_run_prints_the_experiment_and_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = main(
        ["run", str(QUICKSTART), "--dry-run", "--storage-path", str(tmp_path),
         "--set", "tune_config.scheduler={asha: {max_t: 10}}",
         "--set", "tune_config.search_seed=3"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "trials: 20" in out
    assert "scheduler: ASHAScheduler" in out
    assert f"experiment directory: {tmp_path / 'quickstart'}" in out
    assert "loguniform: [0.0001, 0.1]" in out  # the resolved file
    lines = out.split("sampled configs:\n", 1)[1].splitlines()
    configs = [json.loads(line) for line in lines]
    assert len(configs) == 3
    for config in configs:
        assert 1e-4 <= config["lr"] < 0.1 and config["activation"] in ("relu", "gelu", "tanh")
    assert [c["width"] for c in configs] == [32, 64, 32]
    assert not os.listdir(tmp_path)


def test_every_primitive_has_a_yaml_form(tmp_path, capsys):
    (tmp_path / "train.py").write_text("def train(config):\n    return {'x': 1}\n")
    (tmp_path / "exp.yaml").write_text(
        """trainable: train.py:train
param_space:
  a: {uniform: [0, 1]}
  b: {quniform: [0, 1, 0.1]}
  c: {loguniform: [1e-4, 1e-1]}
  d: {qloguniform: [1e-4, 1e-1, 1e-4]}
  e: {randn: {mean: 0, sd: 2}}
  f: {qrandn: [0, 1, 0.5]}
  g: {randint: [1, 10]}
  h: {qrandint: [0, 10, 2]}
  i: {lograndint: [1, 100]}
  j: {qlograndint: [1, 100, 1]}
  k: {choice: [relu, tanh]}
  l: {grid_search: [1, 2]}
  m: {sample_from: "lambda spec: spec.config.g * 2"}
  nested: {depth: {grid_search: [3, 4]}, width: 8}
tune_config: {search_seed: 0}
"""
    )
    assert main(["run", str(tmp_path / "exp.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    configs = [json.loads(line) for line in out.split("sampled configs:\n")[1].splitlines()]
    first = configs[0]
    assert 0 <= first["a"] < 1 and 0 <= first["b"] <= 1 and 1e-4 <= first["c"] < 0.1
    assert first["h"] % 2 == 0 and 1 <= first["i"] < 100 and first["f"] % 0.5 == 0
    assert isinstance(first["g"], int) and first["m"] == 2 * first["g"]
    assert first["k"] in ("relu", "tanh") and first["nested"]["width"] == 8
    assert "trials: 4" in out  # two grid axes of two values
