"""``TorchTrainer``: one distributed-data-parallel training run, on its own or as a trial.

A run is ``num_workers`` worker actors (one process each, ranks 0..N-1) that join a
``torch.distributed`` process group (gloo on CPU, nccl on GPU) over TCP on a free localhost
port and each run ``train_loop_per_worker``. The process that runs the trainer (a trial)
takes rank 0's reports one at a time and passes them to ``tune.report``, watches every rank,
and ends all workers when one fails, when the loop ends, or when Tune stops the trial.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from caliper.integrations.torch.config import ScalingConfig, TrainingFailedError
from caliper.tune.callback import Callback
from caliper.tune.checkpoint import Checkpoint
from caliper.tune.config import RunConfig
from caliper.tune.trainable_wrappers import RESOURCES_ATTR, PlacementGroupFactory

_WORKER = None
_PRELOAD = ("torch", "torch.distributed", "caliper.integrations.torch.worker")


def _worker_class():
    global _WORKER
    if _WORKER is None:
        from caliper.core.api import remote
        from caliper.integrations.torch.worker import TorchWorker

        _WORKER = remote(TorchWorker)
    return _WORKER


class TuneReportCallback(Callback):
    """Ray's ``ray.tune.integration.ray_train.TuneReportCallback``, for the pattern of a
    trial function that builds and fits a ``TorchTrainer``. Here rank 0's reports always
    reach the enclosing trial (``tune.report``), so this callback only states the intent."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _check_gpu(scaling: ScalingConfig) -> None:
    if not scaling.use_gpu:
        return
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            "ScalingConfig(use_gpu=True) but torch sees no CUDA GPU on this machine "
            "(torch.cuda.is_available() is False); use use_gpu=False to train on CPU with gloo"
        )


class TorchTrainer:
    """Data-parallel PyTorch training on ``scaling_config.num_workers`` worker processes.

    Use it alone (``trainer.fit()``) or as a Tuner trainable
    (``tune.Tuner(trainer, param_space={"train_loop_config": {...}})``; each trial's
    ``train_loop_config`` is merged over the trainer's). Inside ``train_loop_per_worker`` use
    :func:`prepare_model`, :func:`prepare_data_loader`, :func:`report`,
    :func:`get_checkpoint` and :func:`get_context`.

    Each trial asks the Tuner for one placement group: an empty bundle for the trial's own
    process, which only coordinates, and one bundle of ``resources_per_worker`` per worker;
    each worker actor is placed in its own bundle (its GPUs are its bundle's), with its torch
    threads set to its CPUs (``OMP_NUM_THREADS``). A trainer fitted inside a trial function
    (Ray's Part-5 pattern) reserves nothing more: give that trial its workers' resources with
    ``tune.with_resources`` (its workers then start with ``num_cpus=0`` inside that
    reservation, unless it is the trainer's own shape of group).

    Only rank 0's metrics and checkpoints reach Tune. A failed or killed worker ends all
    workers and fails the trial, which ``FailureConfig(max_failures=...)`` retries from its
    newest checkpoint (``get_checkpoint()`` in the loop).

    Args:
        train_loop_per_worker: ``fn(config)`` (or ``fn()``) run by every worker.
        train_loop_config: the ``config`` it receives.
        scaling_config: number of workers, GPUs, resources per worker.
        run_config: ``tune.RunConfig`` of ``fit()`` (name, storage path, failure config).
    """

    def __init__(
        self,
        train_loop_per_worker: Callable,
        *,
        train_loop_config: Mapping[str, Any] | None = None,
        scaling_config: ScalingConfig | None = None,
        run_config: RunConfig | None = None,
    ) -> None:
        if not callable(train_loop_per_worker):
            raise TypeError(
                "TorchTrainer(train_loop_per_worker=...) must be a function of the config, got "
                f"{type(train_loop_per_worker).__name__}"
            )
        if train_loop_config is not None and not isinstance(train_loop_config, Mapping):
            raise TypeError(
                "TorchTrainer(train_loop_config=...) must be a dict, got "
                f"{type(train_loop_config).__name__}"
            )
        scaling_config = ScalingConfig() if scaling_config is None else scaling_config
        if not isinstance(scaling_config, ScalingConfig):
            raise TypeError(
                "TorchTrainer(scaling_config=...) must be a ScalingConfig, e.g. "
                f"ScalingConfig(num_workers=2), got {type(scaling_config).__name__}"
            )
        if run_config is not None and not isinstance(run_config, RunConfig):
            raise TypeError(f"TorchTrainer(run_config=...) must be a RunConfig, got {run_config!r}")
        self.train_loop_per_worker = train_loop_per_worker
        self.train_loop_config = dict(train_loop_config or {})
        self.scaling_config = scaling_config
        self.run_config = run_config
        setattr(self, RESOURCES_ATTR, PlacementGroupFactory(scaling_config.as_bundles()))
        from caliper.core.api import is_initialized, preload

        if is_initialized():  # workers started from now on import torch in advance
            preload(*_PRELOAD)

    def __repr__(self) -> str:
        name = getattr(self.train_loop_per_worker, "__name__", "train_loop_per_worker")
        return f"TorchTrainer(train_loop_per_worker={name})"

    # -- as a trainable: the Tuner calls the trainer with each trial's config -------------

    def __call__(self, config: Mapping[str, Any]) -> None:
        """Run one training in the current trial with ``config["train_loop_config"]``
        merged over the trainer's own."""
        unknown = sorted(set(config) - {"train_loop_config"})
        if unknown:
            raise ValueError(
                f"{self!r}: a Tuner's param_space for a trainer takes only "
                f"'train_loop_config', got {unknown}; e.g. "
                "param_space={'train_loop_config': {'lr': tune.loguniform(1e-4, 1e-1)}}"
            )
        loop_config = dict(self.train_loop_config)
        loop_config.update(config.get("train_loop_config") or {})
        self._run(loop_config)

    # -- on its own ---------------------------------------------------------------------

    def fit(self):
        """Run the training; returns a ``tune.Result`` (``metrics``: rank 0's last report,
        ``checkpoint``, ``path``). Raises :class:`TrainingFailedError` if it failed.

        Alone, the run is a one-trial experiment under ``run_config`` (its storage path,
        name and failure config). Inside a trial it runs right there, and rank 0's reports
        are the trial's reports.
        """
        from caliper.tune import session as tune_sessions
        from caliper.tune.result import Result

        _check_gpu(self.scaling_config)
        session = tune_sessions.get_session()
        if isinstance(session, tune_sessions.Session):
            try:
                metrics = self._run(dict(self.train_loop_config))
            except tune_sessions.StopTrial:
                raise
            except TrainingFailedError:
                raise
            except Exception as exc:
                raise TrainingFailedError(f"{self!r} failed: {exc}") from exc
            context = session.context
            return Result(metrics, session.checkpoint, None, context.get_trial_dir())
        from caliper.core.api import preload
        from caliper.tune.tuner import Tuner

        preload(*_PRELOAD)
        run_config = self.run_config or RunConfig()
        param_space = {"train_loop_config": dict(self.train_loop_config)}
        from caliper.tune.controller import ExperimentError
        from caliper.tune.experiment_state import ExperimentStatus, read_status

        try:
            results = Tuner(self, param_space=param_space, run_config=run_config).fit()
        except ExperimentError as exc:  # e.g. more workers than this machine holds
            raise TrainingFailedError(
                f"{self!r}: {exc}; lower ScalingConfig(num_workers=..., resources_per_worker=...)"
            ) from None
        if read_status(results.experiment_path) is ExperimentStatus.INTERRUPTED:
            raise KeyboardInterrupt(f"{self!r} was interrupted; {results.experiment_path} holds it")
        result = results[0]
        if result.error is not None:
            raise TrainingFailedError(self._failure_line(result.error)) from result.error
        return result

    def _failure_line(self, error: BaseException) -> str:
        """One line out of a trial's error text: its last line, which names this trainer."""
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        last = lines[-1] if lines else type(error).__name__
        prefix = f"{TrainingFailedError.__module__}.{TrainingFailedError.__name__}: "
        if last.startswith(prefix):
            return last[len(prefix) :]
        return f"{self!r} failed: {last}"

    # -- one run ------------------------------------------------------------------------

    def _run(self, loop_config: dict) -> dict:
        """Start the workers, pass rank 0's reports on, end them all; returns rank 0's last
        metrics."""
        import caliper.core.api as core
        from caliper.tune import session as tune_sessions

        _check_gpu(self.scaling_config)
        scaling = self.scaling_config
        n = scaling.num_workers
        session = tune_sessions.get_session()
        checkpoint: Checkpoint | None = None
        trial: dict[str, Any] = {}
        if session is not None:
            checkpoint = session.checkpoint
            context = session.context
            trial = {
                "trial_id": context.get_trial_id(),
                "trial_name": context.get_trial_name(),
                "trial_dir": context.get_trial_dir(),
                "experiment_name": context.get_experiment_name(),
            }
        bundle = scaling.worker_bundle()
        env = {"OMP_NUM_THREADS": str(max(1, int(bundle.get("CPU", 1.0))))}
        init_method = f"tcp://127.0.0.1:{_free_port()}"
        group = _worker_group(session, n)
        if group is not None:  # the trial's group: each worker in its own bundle
            from caliper.core.placement_groups import PlacementGroupSchedulingStrategy

            workers = [
                _worker_class()
                .options(
                    num_cpus=bundle.get("CPU", 0),
                    num_gpus=bundle.get("GPU", 0),
                    max_restarts=0,
                    scheduling_strategy=PlacementGroupSchedulingStrategy(group, i),
                )
                .remote()
                for i in range(n)
            ]
        else:  # inside a trial that reserved the workers' resources its own way
            if scaling.use_gpu:
                env["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            worker_cls = _worker_class().options(num_cpus=0, max_restarts=0)
            workers = [worker_cls.remote() for _ in range(n)]
        last: dict | None = None
        try:
            starts = [
                w.start.remote(
                    self.train_loop_per_worker,
                    loop_config,
                    rank,
                    n,
                    init_method,
                    scaling.use_gpu,
                    checkpoint,
                    trial,
                    env,
                )
                for rank, w in enumerate(workers)
            ]
            self._get(core, starts, None)
            ranks = {workers[rank].wait_done.remote(): rank for rank in range(1, n)}
            report_ref = workers[0].next_report.remote(False)
            while True:
                ready, _ = core.wait([report_ref, *ranks], num_returns=1)
                if ready[0] in ranks:
                    rank = ranks.pop(ready[0])
                    self._get(core, ready[0], rank)
                    continue
                item = self._get(core, report_ref, 0)
                if item is None:
                    break
                metrics, reported = item
                last = metrics
                if session is None:
                    raise RuntimeError(f"{self!r} must run inside a trial or with fit()")
                session.report(metrics, reported)  # may end the trial here (StopTrial)
                report_ref = workers[0].next_report.remote(True)
            for ref, rank in ranks.items():
                self._get(core, ref, rank)
        finally:
            for worker in workers:
                core.kill(worker)
        if last is None:
            raise TrainingFailedError(
                f"{self!r}: the training loop returned without reporting anything from rank "
                "0; call caliper.integrations.torch.report({...}) in train_loop_per_worker"
            )
        return last

    def _get(self, core, ref, rank: int | None):
        try:
            return core.get(ref)
        except Exception as exc:
            who = "a worker" if rank is None else f"worker rank {rank}"
            lines = [line for line in str(exc).strip().splitlines() if line.strip()]
            what = lines[-1].strip() if lines else type(exc).__name__
            raise TrainingFailedError(
                f"{self!r}: {who} of {self.scaling_config.num_workers} failed: {what}"
            ) from exc


def _worker_group(session: Any, n: int) -> Any:
    """The trial's placement group when it was made for ``n`` workers (an empty head bundle,
    then one bundle per worker, as a trainer asks for it), else ``None``."""
    if session is None:
        return None
    context = session.context
    group = context.get_placement_group()
    bundles = context.get_trial_resources().bundles
    if group is None or len(bundles) != n + 1 or any(bundles[0].values()):
        return None
    return group
