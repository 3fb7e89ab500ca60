"""The YAML examples run as a user runs them (``python -m caliper run <file>`` from the
repository root, in a fresh process) and their best trial reads back with ``tune best``."""

from __future__ import annotations

import json

import pytest
from procs import run_cli


@pytest.mark.timeout(150)
def test_digits_asha_optuna(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("optuna")
    pytest.importorskip("sklearn")
    proc = run_cli(
        "run",
        "examples/digits_asha_optuna.yaml",
        "--storage-path",
        str(tmp_path),
        "--set",
        "tune_config.num_samples=3",
        "--set",
        "param_space.epochs=3",
        "--set",
        "tune_config.scheduler={asha: {max_t: 3, grace_period: 1, reduction_factor: 3}}",
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = run_cli("best", str(tmp_path / "digits_asha_optuna"), "--format", "json")
    assert best.returncode == 0, best.stderr
    report = json.loads(best.stdout)
    assert report["config"]["hidden_size"] in (32, 64, 128)
    assert 1e-4 <= report["config"]["lr"] <= 1e-1
    assert 0 < report["metrics"]["val_loss"] < 3
    iterations = [
        len((path / "result.json").read_text().splitlines())
        for path in (tmp_path / "digits_asha_optuna").iterdir()
        if (path / "result.json").exists()
    ]
    assert len(iterations) == 3 and set(iterations) <= {1, 3}  # ASHA's rungs
