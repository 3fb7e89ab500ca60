"""``RunConfig(storage_filesystem=...)``: any pyarrow filesystem with a path inside it (here a
LocalFileSystem and a SubTreeFileSystem on this disk) holds the experiment, which restores
and reads back from there."""

from __future__ import annotations

import json
import os

import pytest

from caliper import tune

pytestmark = pytest.mark.timeout(90)
pafs = pytest.importorskip("pyarrow.fs", reason="needs pyarrow: pip install 'caliper[storage]'")


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        start = checkpoint.to_dict()["step"]
    for step in range(start + 1, config["steps"] + 1):
        tune.report(
            {"loss": config["x"] * step}, checkpoint=tune.Checkpoint.from_dict({"step": step})
        )


def _files(root: str) -> set[str]:
    return {
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    }


@pytest.mark.parametrize("kind", ["local", "subtree"])
def test_experiment_in_a_pyarrow_filesystem(runtime_factory, tmp_path, kind):
    runtime_factory(num_cpus=2)
    disk = tmp_path / "disk"
    if kind == "local":
        filesystem, storage_path, root = pafs.LocalFileSystem(), str(disk / "runs"), disk / "runs"
    else:
        disk.mkdir()
        filesystem = pafs.SubTreeFileSystem(str(disk), pafs.LocalFileSystem())
        storage_path, root = "team/runs", disk / "team" / "runs"
    config = tune.RunConfig(
        name="exp",
        storage_path=storage_path,
        storage_filesystem=filesystem,
        verbose=0,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
    )
    results = tune.Tuner(
        train,
        param_space={"x": tune.grid_search([1, 2]), "steps": 2},
        tune_config=tune.TuneConfig(metric="loss", mode="min"),
        run_config=config,
    ).fit()
    assert results.num_errors == 0
    files = _files(str(root / "exp"))
    assert {"experiment_state.json", "tuner.pkl"} <= files
    state = json.loads((root / "exp" / "experiment_state.json").read_text())
    for trial in state["trials"]:
        mine = {f.split("/", 1)[1] for f in files if f.startswith(trial["dirname"] + "/")}
        assert {"result.json", "progress.csv", "params.json"} <= mine
        assert {f for f in mine if f.startswith("checkpoint_")} == {
            "checkpoint_000001/_dict_checkpoint.pkl",
            "checkpoint_000001/.checkpoint_complete",
        }
    best = results.get_best_result()
    assert best.checkpoint.filesystem is filesystem or best.checkpoint.filesystem.equals(filesystem)
    assert best.checkpoint.to_dict() == {"step": 2}

    location = f"{storage_path}/exp"
    assert tune.Tuner.can_restore(location, storage_filesystem=filesystem)
    restored = tune.Tuner.restore(
        location,
        trainable=train,
        param_space={"x": tune.grid_search([1, 2]), "steps": 3},
        storage_filesystem=filesystem,
        restart_errored=True,
    )
    assert len(restored.fit()) == 2  # finished trials stay as they were

    grid = tune.ResultGrid.from_path(location, storage_filesystem=filesystem)
    assert sorted(r.metrics["loss"] for r in grid) == [2, 4]
    with grid.get_best_result().checkpoint.as_directory() as folder:
        assert os.listdir(folder) == ["_dict_checkpoint.pkl"]
