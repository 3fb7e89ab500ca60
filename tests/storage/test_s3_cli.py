"""``tune ls``, ``tune best`` and ``tune restore`` given an s3:// URI, from processes that
never saw the experiment's local staging copy (their own HOME and temporary directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from caliper import tune

pytestmark = pytest.mark.timeout(100)

ROOT = Path(__file__).resolve().parents[2]


def train(config):
    for step in range(1, 4):
        tune.report({"loss": config["x"] * step}, checkpoint=tune.Checkpoint.from_dict({"s": step}))


def cli(tmp: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m caliper ARGS`` as on another machine: its own HOME and TMPDIR."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200", HOME=str(tmp), TMPDIR=str(tmp))
    env["CALIPER_STAGING_DIR"] = str(tmp / "staging")
    return subprocess.run(
        [sys.executable, "-m", "caliper", *args],
        cwd=cwd or tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_ls_best_and_restore_of_a_uri(rt, bucket, tmp_path):
    uri = f"s3://{bucket}/runs"
    tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2, 3])},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=tune.RunConfig(name="exp", storage_path=uri, verbose=0),
    ).fit()

    listed = cli(tmp_path / "a", "ls", uri)
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.split()[:1] == ["exp"])
    assert "FINISHED" in line and "3 TERMINATED" in line

    trials = cli(tmp_path / "b", "ls", f"{uri}/exp")
    assert trials.returncode == 0, trials.stderr
    assert sum("TERMINATED" in row for row in trials.stdout.splitlines()) == 3

    best = cli(tmp_path / "c", "best", f"{uri}/exp")
    assert best.returncode == 0, best.stderr
    data = json.loads(best.stdout)
    assert data["config"] == {"x": 1} and data["value"] == 3

    again = cli(tmp_path / "d", "restore", f"{uri}/exp", "--trainable", f"{__file__}:train")
    assert again.returncode == 0, again.stderr[-2000:]
    state = tune.ResultGrid.from_path(f"{uri}/exp")
    assert state.num_terminated == 3

    missing = cli(tmp_path / "e", "ls", f"s3://{bucket}-missing/runs")
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_tune_run_to_a_uri_then_restore_it_elsewhere(bucket, tmp_path):
    uri = f"s3://{bucket}/yaml"
    settings = ("--set", "tune_config.num_samples=1", "--set", "param_space.steps=3")
    ran = cli(tmp_path / "a", "run", "examples/quickstart.yaml", *settings,
              "--storage-path", uri, cwd=ROOT)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert f"tune ls {uri}/quickstart" in ran.stdout  # the URI, not the local staging copy
    again = cli(tmp_path / "b", "restore", f"{uri}/quickstart", cwd=ROOT)  # its saved trainable
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"tune best {uri}/quickstart" in again.stdout
    assert tune.ResultGrid.from_path(f"{uri}/quickstart").num_terminated == 2
