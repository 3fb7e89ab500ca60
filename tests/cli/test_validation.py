"""Bad experiment files: one line naming the file, the key path and the line; exit status 2."""

from __future__ import annotations

import pytest
from procs import run_cli

from caliper.cli import main

TRAIN = "def train(config):\n    return {'loss': config.get('lr', 0)}\n"
GOOD = """trainable: train.py:train
param_space:
  lr: {loguniform: [1e-4, 1e-1]}
  act: {choice: [relu, tanh]}
tune_config:
  metric: loss
  mode: min
  num_samples: 2
run_config:
  stop: {training_iteration: 3}
"""


@pytest.fixture
def write(tmp_path):
    (tmp_path / "train.py").write_text(TRAIN)

    def write(text: str) -> str:
        path = tmp_path / "exp.yaml"
        path.write_text(text)
        return str(path)

    return write


# (what to replace in GOOD, by what, the key path, its line, words of what is expected)
CASES = {
    "unknown key": ("  num_samples: 2", "  num_sample: 2", "tune_config.num_sample", 8,
                    "unknown key"),
    "unknown top-level key": ("run_config:", "run_conf:", "run_conf", 9, "expected one of"),
    "wrong type": ("num_samples: 2", "num_samples: lots", "tune_config.num_samples", 8,
                   "expected an int"),
    "wrong type of section": ("  stop: {training_iteration: 3}", "  stop: 3",
                              "run_config.stop", 10, "expected a mapping"),
    "bad primitive": ("[1e-4, 1e-1]", "[0, 1e-1]", "param_space.lr.loguniform", 3,
                      "lower > 0"),
    "misspelt primitive": ("{choice:", "{choise:", "param_space.act.choise", 4,
                           "did you mean choice"),
    "primitive with a wrong argument": ("{choice: [relu, tanh]}", "{choice: relu}",
                                        "param_space.act.choice", 4, "expects a list"),
    "unimportable module": ("train.py:train", "no_such_module_xyz:train", "trainable", 1,
                            "No module named"),
    "missing function": ("train.py:train", "train.py:nope", "trainable", 1, "has no 'nope'"),
    "missing file": ("train.py:train", "nowhere/train.py:train", "trainable", 1, "no file"),
    "bad mode": ("mode: min", "mode: best", "tune_config.mode", 7, "'min' or 'max'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_one_line_and_exit_2(case, write, capsys, monkeypatch, tmp_path):
    old, new, key_path, line, expected = CASES[case]
    assert old in GOOD
    monkeypatch.chdir(tmp_path)
    file = write(GOOD.replace(old, new, 1))
    assert main(["run", file, "--dry-run"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert f"{file}:{line}: {key_path}:" in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in captured.err


def test_bad_scheduler_argument_and_name(write, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    file = write(GOOD + "  # end\n")
    args = ["run", file, "--dry-run", "--set"]
    assert main([*args, "tune_config.scheduler={asha: {max_tt: 3}}"]) == 2
    err = capsys.readouterr().err
    assert "tune_config.scheduler.asha.max_tt" in err and "max_t" in err and "--set" in err
    assert main([*args, "tune_config.search_alg=optuner"]) == 2
    err = capsys.readouterr().err
    assert "tune_config.search_alg.optuner" in err and "optuna" in err


def test_good_file_passes(write, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["run", write(GOOD), "--dry-run"]) == 0
    assert "sampled configs" in capsys.readouterr().out


def test_yaml_syntax_error_names_the_line(write, capsys):
    file = write("trainable: train.py:train\nparam_space:\n  lr: [1, 2\n")
    assert main(["run", file]) == 2
    err = capsys.readouterr().err
    assert f"{file}:" in err and "not valid YAML" in err and len(err.strip().splitlines()) == 1


def test_traceback_only_with_debug(write, tmp_path):
    file = write(GOOD.replace("train.py:train", "no_such_module_xyz:train"))
    proc = run_cli("run", file, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    debug = run_cli("run", file, "--debug", cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback" in debug.stderr and "ModuleNotFoundError" in debug.stderr


def test_an_error_of_the_experiment_itself_is_one_line_and_exit_1(write, tmp_path):
    # fail_fast=raise: the first trial's error ends fit() with an exception
    file = write(GOOD)
    (tmp_path / "train.py").write_text("def train(config):\n    raise ValueError('boom')\n")
    args = ["--set", "run_config.verbose=0", "--set", "run_config.failure_config.fail_fast=raise"]
    proc = run_cli("run", file, *args, "--storage-path", "r", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "run: error:" in proc.stderr and "boom" in proc.stderr


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{logunifrom: {lower: 0.1, upper: 1}}", "did you mean loguniform"),
        ("{loguniformm: 0.5}", "did you mean loguniform"),
        ("{grid: [0.1, 0.2]}", "did you mean grid_search"),
        ("{quniform: [0, 1, 0.1], x: 1}", "must be the only key of its mapping"),
    ],
)
def test_a_misspelt_or_crowded_primitive_is_an_error_not_a_constant(tmp_path, value, words):
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"trainable: examples/quickstart.py:objective\nparam_space:\n  lr: {value}\n  steps: 2\n"
    )
    proc = run_cli("run", str(path), "--dry-run")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "exp.yaml:3: param_space.lr" in line and words in line


def test_a_bad_set_value_is_one_line(tmp_path):
    proc = run_cli("run", "examples/quickstart.yaml", "--dry-run", "--set", "param_space.lr=[1,")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "--set param_space.lr=[1," in line and "not valid YAML" in line


def test_resources_per_trial_beside_a_trainer_that_asks_for_its_own_is_an_error(tmp_path):
    module = tmp_path / "own.py"
    module.write_text(
        "from caliper import tune\n"
        "def fn(config):\n    return {'loss': 1.0}\n"
        "trainable = tune.with_resources(fn, {'cpu': 1})\n"
    )
    path = tmp_path / "exp.yaml"
    path.write_text(f"trainable: {module}:trainable\nresources_per_trial: {{cpu: 2}}\n")
    proc = run_cli("run", str(path), "--dry-run")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "resources_per_trial" in line and "asks for its own resources" in line
