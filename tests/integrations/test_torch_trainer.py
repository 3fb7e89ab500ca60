"""``caliper.integrations.torch``: real DistributedDataParallel on 2 CPU workers with gloo,
alone (``trainer.fit()``) and as Tuner trials (ASHA, retries from a checkpoint, a trial
function that fits a trainer), and the trainer's bad input."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import cloudpickle
import pytest

torch = pytest.importorskip("torch")

from caliper import tune  # noqa: E402
from caliper.integrations.torch import (  # noqa: E402
    Checkpoint,
    FailureConfig,
    RunConfig,
    ScalingConfig,
    TorchTrainer,
    TrainingFailedError,
    TuneReportCallback,
    get_checkpoint,
    get_context,
    prepare_data_loader,
    prepare_model,
    report,
)
from caliper.schedulers import ASHAScheduler  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture
def rt(runtime_factory):
    """Logical CPUs: two 2-worker trials at a time on any machine."""
    return runtime_factory(num_cpus=4)


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(64, 1, generator=g)
    return torch.utils.data.TensorDataset(x, y)


def _params(model) -> list[float]:
    return torch.cat([p.detach().flatten() for p in model.parameters()]).tolist()


def ddp_loop(config):
    """A linear model on a dataset split over the ranks; every rank writes its parameters."""
    torch.manual_seed(0)
    ctx = get_context()
    model = prepare_model(torch.nn.Linear(4, 1))
    loader = prepare_data_loader(torch.utils.data.DataLoader(_data(), batch_size=8))
    opt = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start = 0
    checkpoint = get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as path:
            state = torch.load(os.path.join(path, "state.pt"))
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = state["step"] + 1
    for step in range(start, config["steps"]):
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        flag = config.get("crash_flag")
        if flag and ctx.get_world_rank() == 1 and step == 2 and not os.path.exists(flag):
            open(flag, "w").close()
            os._exit(1)  # once: the retry finds the flag
        metrics = {
            "loss": loss.item() + config.get("offset", 0.0),
            "start": start,
            "rank": ctx.get_world_rank(),
            "world_size": ctx.get_world_size(),
        }
        if config.get("checkpoint"):
            with tempfile.TemporaryDirectory() as tmp:
                if ctx.get_world_rank() == 0:
                    torch.save(
                        {"model": model.state_dict(), "opt": opt.state_dict(), "step": step},
                        os.path.join(tmp, "state.pt"),
                    )
                report(metrics, checkpoint=Checkpoint.from_directory(tmp))
        else:
            report(metrics)
    if config.get("out"):
        with open(os.path.join(config["out"], f"rank{ctx.get_world_rank()}.json"), "w") as f:
            json.dump({"params": _params(model), "pid": os.getpid()}, f)


def _trainer(tmp_path, num_workers=2, **loop_config) -> TorchTrainer:
    config = {"lr": 0.05, "steps": 3, "out": str(tmp_path)}
    config.update(loop_config)
    return TorchTrainer(
        ddp_loop,
        train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=num_workers),
        run_config=RunConfig(storage_path=str(tmp_path / "results"), verbose=0),
    )


def _read(path) -> dict:
    with open(path) as f:
        return json.load(f)


@pytest.mark.timeout(60)
def test_two_gloo_workers_train_one_model(rt, tmp_path, processes_gone):
    (tmp_path / "ddp").mkdir()
    result = _trainer(tmp_path / "ddp", num_workers=2).fit()
    assert result.error is None
    assert result.metrics["world_size"] == 2 and result.metrics["rank"] == 0
    assert result.metrics["training_iteration"] == 3
    assert os.path.isdir(result.path)
    rank0, rank1 = (_read(tmp_path / "ddp" / f"rank{r}.json") for r in (0, 1))
    assert rank0["params"] == pytest.approx(rank1["params"], abs=1e-6)  # one model
    assert rank0["pid"] != rank1["pid"]
    assert not processes_gone([rank0["pid"], rank1["pid"]])  # the workers ended with the run

    (tmp_path / "single").mkdir()
    single = _trainer(tmp_path / "single", num_workers=1).fit()
    assert single.metrics["world_size"] == 1
    alone = _read(tmp_path / "single" / "rank0.json")["params"]
    # the same seed, but one rank saw half the data per step: gradients were averaged
    assert max(abs(a - b) for a, b in zip(alone, rank0["params"], strict=True)) > 1e-3


def silent(config):
    pass


def tune_reporting(config):
    """``tune.report`` inside the loop: rank 0's reach the trial like ``report``'s."""
    tune.report({"loss": 1.0 / (1 + get_context().get_world_rank()), "via": "tune"})


@pytest.mark.timeout(30)
def test_bad_input(rt, tmp_path):
    with pytest.raises(ValueError, match=r"num_workers=0\) needs at least 1 worker"):
        ScalingConfig(num_workers=0)
    with pytest.raises(TypeError, match="must be a ScalingConfig"):
        TorchTrainer(silent, scaling_config={"num_workers": 2})
    if not torch.cuda.is_available():
        gpu = TorchTrainer(silent, scaling_config=ScalingConfig(num_workers=2, use_gpu=True))
        with pytest.raises(ValueError, match=r"use_gpu=True\) but torch sees no CUDA GPU"):
            gpu.fit()
    quiet = TorchTrainer(
        silent,
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    with pytest.raises(TrainingFailedError, match=r"TorchTrainer\(train_loop_per_worker=silent\)"):
        quiet.fit()
    too_many = TorchTrainer(
        silent,
        scaling_config=ScalingConfig(num_workers=5),  # the runtime has 4 CPUs
        run_config=RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    with pytest.raises(TrainingFailedError, match=r"can never start.*ScalingConfig\(num_workers"):
        too_many.fit()


@pytest.mark.timeout(60)
def test_asha_stops_distributed_trials_early(rt, tmp_path):
    trainer = _trainer(tmp_path, num_workers=2, steps=6, out=None)
    assert trainer._caliper_resources.bundles == [{}, {"CPU": 1.0}, {"CPU": 1.0}]
    tuner = tune.Tuner(
        trainer,
        param_space={"train_loop_config": {"offset": tune.grid_search([0.0, 0.0, 10.0, 10.0])}},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            scheduler=ASHAScheduler(max_t=6, grace_period=1, reduction_factor=2),
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "asha"), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    iterations = {
        r.config["train_loop_config"]["offset"]: [] for r in results
    }  # offset -> iterations reached
    for r in results:
        iterations[r.config["train_loop_config"]["offset"]].append(r.metrics["training_iteration"])
    assert max(iterations[0.0]) == 6  # the good trials ran to the end
    assert max(iterations[10.0]) < 6  # the bad ones were stopped at a rung
    assert all(r.metrics["world_size"] == 2 for r in results)


@pytest.mark.timeout(60)
def test_killed_worker_retried_from_checkpoint(rt, tmp_path):
    trainer = TorchTrainer(
        ddp_loop,
        train_loop_config={
            "lr": 0.05,
            "steps": 5,
            "checkpoint": True,
            "crash_flag": str(tmp_path / "crashed"),
        },
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(
            storage_path=str(tmp_path / "results"),
            verbose=0,
            failure_config=FailureConfig(max_failures=1),
        ),
    )
    result = trainer.fit()
    assert (tmp_path / "crashed").exists()  # rank 1 died once
    assert result.error is None
    assert result.metrics["start"] > 0  # the retry resumed from a checkpoint
    assert result.metrics["training_iteration"] == 5
    assert result.checkpoint is not None
    with result.checkpoint.as_directory() as path:
        assert torch.load(os.path.join(path, "state.pt"))["step"] == 4


def driver_fn(config):
    """Ray's pattern: a trial function that builds and fits a trainer."""
    trainer = TorchTrainer(
        tune_reporting,
        train_loop_config=config["train_loop_config"],
        scaling_config=ScalingConfig(num_workers=2),
        run_config=RunConfig(
            name=f"train-trial_id={tune.get_context().get_trial_id()}",
            callbacks=[TuneReportCallback()],
        ),
    )
    result = trainer.fit()
    assert result.metrics["via"] == "tune"


@pytest.mark.timeout(60)
def test_trial_function_fits_a_trainer(rt, tmp_path):
    tuner = tune.Tuner(
        tune.with_resources(driver_fn, tune.PlacementGroupFactory([{"CPU": 1}, {"CPU": 1}])),
        param_space={"train_loop_config": {"x": tune.grid_search([1, 2])}},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors
    assert [r.metrics["loss"] for r in results] == [1.0, 1.0]  # rank 0's tune.report
