"""Driver of tests/cluster/test_ray_tune.py's node-failure test: six trials on the cluster at
argv[1], storage argv[2], every step logged to argv[3]; prints a JSON summary at the end."""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import caliper
from caliper import tune

ADDRESS, STORAGE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]


def train(config):
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = int(Path(folder, "step").read_text())
    for step in range(start, 12):
        time.sleep(0.3)
        with open(LOG, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "step": step, "resumed_from": start}) + "\n")
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "step").write_text(str(step + 1))
            tune.report({"score": step}, checkpoint=tune.Checkpoint.from_directory(folder))


caliper.init(address=ADDRESS)
tuner = tune.Tuner(
    train,
    param_space={"i": tune.grid_search(list(range(6)))},
    tune_config=tune.TuneConfig(max_concurrent_trials=6),
    run_config=tune.RunConfig(
        storage_path=STORAGE,
        name="node_failure",
        verbose=0,
        failure_config=tune.FailureConfig(max_failures=3),
    ),
)
results = tuner.fit()
lines = {}
for result in results:
    with open(os.path.join(result.path, "result.json")) as f:
        lines[os.path.basename(result.path)] = sum(1 for line in f if line.strip())
with open(os.path.join(STORAGE, "node_failure", "experiment_state.json")) as f:
    state = json.load(f)
failures = sum(t.get("num_failures", 0) for t in state.get("trials", []))
print(
    json.dumps(
        {
            "errors": results.num_errors,
            "iterations": sorted(r.metrics["training_iteration"] for r in results),
            "failures": failures,
            "result_lines": lines,
        }
    )
)
