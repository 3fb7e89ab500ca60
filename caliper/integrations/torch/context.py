"""What ``train_loop_per_worker`` calls in its worker: ``report``, ``get_checkpoint`` and
``get_context`` (Ray Train's names). ``tune.report``, ``tune.get_checkpoint`` and
``tune.get_context`` work there too: the worker installs a session that speaks for the trial.

Only rank 0's reports reach Tune: rank 0's ``report`` returns once the trial has taken the
result (and copied its checkpoint, so the directory may be deleted afterwards); other ranks'
reports return at once and are dropped, as their checkpoints are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from caliper.tune.checkpoint import Checkpoint


class TrainContext:
    """What ``get_context()`` returns in a worker: ranks and sizes (one node: the local
    rank is the world rank) and, when the trainer runs in a trial, the trial's names."""

    def __init__(self, rank: int, world_size: int, trial: Mapping[str, Any]) -> None:
        self._rank = rank
        self._world_size = world_size
        self._trial = dict(trial)

    def get_world_rank(self) -> int:
        return self._rank

    def get_world_size(self) -> int:
        return self._world_size

    def get_local_rank(self) -> int:
        return self._rank

    def get_local_world_size(self) -> int:
        return self._world_size

    def get_node_rank(self) -> int:
        return 0

    def get_trial_id(self) -> str | None:
        return self._trial.get("trial_id")

    def get_trial_name(self) -> str | None:
        return self._trial.get("trial_name")

    def get_trial_dir(self) -> str | None:
        return self._trial.get("trial_dir")

    def get_experiment_name(self) -> str | None:
        return self._trial.get("experiment_name")

    def get_metadata(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"TrainContext(world_rank={self._rank}, world_size={self._world_size})"


class WorkerSession:
    """The training run as this worker sees it; also installed as the tune session of the
    worker's process so that ``tune.report`` inside the loop lands here.

    Args:
        context: the worker's ranks.
        checkpoint: the checkpoint to resume from, or ``None``.
        send: rank 0 only: ``send(metrics, checkpoint)`` hands a report to the trainer and
            returns once it was taken.
    """

    def __init__(
        self,
        context: TrainContext,
        checkpoint: Checkpoint | None,
        send: Callable[[dict, Checkpoint | None], None] | None,
    ) -> None:
        self.context = context
        self.checkpoint = checkpoint
        self.reports = 0
        self._send = send

    def report(self, metrics: Mapping[str, Any], checkpoint: Checkpoint | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(
                "report takes a dict of metrics, e.g. report({'loss': 0.1}), got "
                f"{type(metrics).__name__}"
            )
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise TypeError(
                "report(checkpoint=...) takes a Checkpoint, e.g. "
                f"Checkpoint.from_directory(path), got {type(checkpoint).__name__}"
            )
        self.reports += 1
        if self._send is not None:
            self._send(dict(metrics), checkpoint)


class _Current:
    session: WorkerSession | None = None


def set_worker_session(session: WorkerSession | None) -> None:
    from caliper.tune import session as tune_sessions

    _Current.session = session
    tune_sessions.set_session(session)  # tune.report & co. in the loop speak to the trainer


def _session(what: str) -> WorkerSession:
    if _Current.session is None:
        raise RuntimeError(
            f"{what}() was called outside a training worker; call it inside the "
            "train_loop_per_worker function you pass to TorchTrainer"
        )
    return _Current.session


def report(metrics: Mapping[str, Any], checkpoint: Checkpoint | None = None) -> None:
    """Report ``metrics`` (and optionally a checkpoint) of this worker; rank 0's reach Tune.

    Call it on every rank (as in Ray Train); on rank 0 it returns once the trial took the
    result, and if Tune stops the trial there, every worker is ended.
    """
    _session("report").report(metrics, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from: the trial's newest one when it was restarted (after a
    failure, or a pause), ``None`` on a fresh start."""
    return _session("get_checkpoint").checkpoint


def get_context() -> TrainContext:
    """This worker's world rank and size, local rank and size, and node rank."""
    return _session("get_context").context
