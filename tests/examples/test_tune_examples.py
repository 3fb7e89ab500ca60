"""The tuning examples run as a user would run them (``--smoke-test``, in a fresh process), print
the best config and leave an experiment directory with one ``result.json`` per trial."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest
from procs import run_script

TIMEOUT_S = 120


def run_example(name: str, storage: Path) -> str:
    proc = run_script(
        f"examples/{name}", "--smoke-test", "--storage-path", str(storage), timeout=TIMEOUT_S
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def best_config(output: str) -> dict:
    match = re.search(r"^Best config: (\{.*\})$", output, re.MULTILINE)
    assert match, f"no 'Best config: {{...}}' line in:\n{output}"
    return ast.literal_eval(match.group(1))


def trial_results(experiment: Path) -> list[list[dict]]:
    """Each trial's results, read from its ``result.json`` (one JSON object per line)."""
    files = sorted(experiment.glob("*/result.json"))
    return [[json.loads(line) for line in f.read_text().splitlines() if line] for f in files]


def test_quickstart(tmp_path):
    output = run_example("quickstart.py", tmp_path)
    config = best_config(output)
    assert set(config) == {"lr", "momentum", "activation", "width", "steps"}
    assert 1e-4 <= config["lr"] <= 1e-1 and 0.5 <= config["momentum"] <= 0.99
    assert config["activation"] in ("relu", "gelu", "tanh") and config["width"] in (32, 64)
    assert re.search(r"^Best loss: [\d.]+ after 5 steps$", output, re.MULTILINE)

    trials = trial_results(tmp_path / "quickstart")
    assert len(trials) == 4  # 2 samples x 2 grid values
    assert all([r["step"] for r in results] == [1, 2, 3, 4, 5] for results in trials)
    assert sorted(results[0]["config"]["width"] for results in trials) == [32, 32, 64, 64]


def test_torch_digits(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    output = run_example("torch_digits.py", tmp_path)
    config = best_config(output)
    assert config["hidden_size"] in (32, 64, 128) and config["batch_size"] in (16, 32, 64)
    assert 1e-4 <= config["lr"] <= 1e-1 and config["epochs"] == 2
    assert re.search(
        r"^Best val_loss: [\d.]+, val_accuracy: [\d.]+ after 2 epochs$", output, re.MULTILINE
    )

    experiment = tmp_path / "torch_digits"
    trials = trial_results(experiment)
    assert len(trials) == 2
    for results in trials:
        assert [r["epoch"] for r in results] == [0, 1]
        assert all(0.0 <= r["val_accuracy"] <= 1.0 and r["val_loss"] > 0 for r in results)
    checkpoints = sorted(experiment.glob("*/checkpoint_*/model.pt"))
    assert len(checkpoints) == 4  # one per epoch and trial


def result_iterations(experiment: Path) -> dict[str, list[int]]:
    out = {}
    for result_file in sorted(experiment.glob("*/result.json")):
        with open(result_file) as f:
            out[result_file.parent.name] = [json.loads(line)["epoch"] for line in f]
    return out


def test_fault_tolerance_resumes_after_a_crash_as_if_nothing_happened(tmp_path):
    crashed = tmp_path / "crashed"
    killed = run_script(
        "examples/fault_tolerance.py",
        "--smoke-test",
        "--storage-path",
        str(crashed),
        "--crash-after",
        "0.8",
        timeout=TIMEOUT_S,
    )
    assert killed.returncode == -9, killed.stderr  # SIGKILLed part way
    resumed = run_example("fault_tolerance.py", crashed)
    assert "Resuming the experiment in" in resumed
    assert "Errors: 0" in resumed
    straight = run_example("fault_tolerance.py", tmp_path / "straight")
    assert "Resuming" not in straight
    assert best_config(resumed) == best_config(straight)
    best_loss = re.compile(r"^Best loss: .*$", re.MULTILINE)
    assert best_loss.findall(resumed) == best_loss.findall(straight)
    experiment = crashed / "fault_tolerance"
    state = json.loads((experiment / "experiment_state.json").read_text())
    dirs = {os.path.basename(t["path"]) for t in state["trials"]}
    # a trial whose directory was made just before the kill but that no saved state named is
    # started again under a new directory (its old one holds no results or one partial run)
    files = {name: epochs for name, epochs in result_iterations(experiment).items() if name in dirs}
    assert len(files) == 4
    assert all(epochs == [1, 2, 3, 4] for epochs in files.values()), files  # each once


def test_pbt_digits(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    output = run_example("pbt_digits.py", tmp_path)
    config = best_config(output)
    assert set(config) == {"lr", "momentum", "epochs"} and config["epochs"] == 4
    assert re.search(r"^Best val_accuracy: 0\.\d+ after 4 epochs$", output, re.MULTILINE)
    exploits = int(re.search(r"^Exploits: (\d+)", output, re.MULTILINE).group(1))
    experiment = tmp_path / "pbt_digits"
    policy = experiment / "pbt_global.txt"
    lines = policy.read_text().splitlines() if policy.exists() else []
    assert len(lines) == exploits
    for line in lines:  # [trial, source, iterations, source config, explored config]
        trial_tag, source_tag, _, _, source_config, new_config = json.loads(line)
        assert trial_tag != source_tag and set(new_config) == set(source_config)
    trials = trial_results(experiment)
    assert len(trials) == 4
    assert all(results[-1]["training_iteration"] >= 1 for results in trials)


def test_asha_optuna(tmp_path):
    pytest.importorskip("optuna")
    pytest.importorskip("sklearn")
    output = run_example("asha_optuna.py", tmp_path)
    config = best_config(output)
    assert config["loss"] in ("hinge", "log_loss", "modified_huber") and config["max_epochs"] == 3
    assert 1e-6 <= config["alpha"] <= 1e-1 and 1e-3 <= config["eta0"] <= 1.0
    trained, budget = map(int, re.search(r"^Epochs trained: (\d+) of (\d+)", output, re.M).groups())
    assert budget == 8 * 3
    trials = trial_results(tmp_path / "asha_optuna")
    assert len(trials) == 8
    assert sum(len(results) for results in trials) == trained
    assert trained < budget  # ASHA stopped some trials at a rung
    assert all(len(results) in (1, 3) for results in trials)  # rungs at 1 and 3 epochs


def test_torch_ddp(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    output = run_example("torch_ddp.py", tmp_path)
    config = best_config(output)
    assert set(config) == {"lr", "hidden_size"} and 1e-3 <= config["lr"] <= 1e-1
    assert re.search(r"^Best val_loss: [\d.]+, .* after 2 epochs on 2 workers$", output, re.M)
    trials = trial_results(tmp_path / "torch_ddp")
    assert len(trials) == 2
    assert all(results[-1]["world_size"] == 2 for results in trials)
