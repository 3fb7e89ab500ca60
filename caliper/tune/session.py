"""What a trainable calls inside its trial: ``tune.report``, ``tune.get_checkpoint``,
``tune.get_context``. One trial runs in a worker process at a time; :class:`Session` is that
trial's link to the controller and lives only while the trial runs.

A report is posted to the driver (:mod:`caliper.core.channel`). When the controller may stop or
pause the trial at this result, ``report`` waits for its decision; when it has said that nothing
but the end of the experiment can stop this trial, most reports are sent without waiting (every
``sync_every``-th still waits, which bounds how far a trial runs ahead of the driver): the first
result of a run at once, later ones in small batches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from caliper.core import channel
from caliper.core.detect import hostname
from caliper.tune.checkpoint import Checkpoint
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Decision

# Reports nothing can stop at are sent in batches: at most this many, this old.
_BATCH = 64
_BATCH_S = 0.01


class StopTrial(BaseException):
    """Raised inside ``tune.report`` when the controller stops (or pauses) the trial; the
    runner catches it, so ``finally`` blocks of the trainable run."""


class TuneContext:
    """What ``tune.get_context()`` returns inside a trial (Ray Tune's method names)."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self._spec = spec

    def get_trial_id(self) -> str:
        return self._spec["trial_id"]

    def get_trial_name(self) -> str:
        return self._spec["trial_name"]

    def get_trial_dir(self) -> str:
        return self._spec["trial_dir"]

    def get_experiment_name(self) -> str:
        return self._spec["experiment_name"]

    def get_placement_group(self) -> Any:
        """The placement group the trial reserved (a trial with several bundles), for what the
        trial starts itself (e.g. a trainer's workers, one per bundle); ``None`` otherwise."""
        return self._spec.get("placement_group")

    def get_trial_resources(self) -> PlacementGroupFactory:
        bundles, strategy = self._spec["resources"]
        return PlacementGroupFactory(bundles, strategy)

    def get_world_size(self) -> int:
        return 1

    def get_world_rank(self) -> int:
        return 0

    def get_local_rank(self) -> int:
        return 0

    def get_local_world_size(self) -> int:
        return 1

    def get_node_rank(self) -> int:
        return 0

    def get_metadata(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"TuneContext(trial={self.get_trial_name()!r})"


class Session:
    """The running trial's state in its worker (see the module docstring)."""

    def __init__(self, spec: Mapping[str, Any], clock=time.time) -> None:
        self.spec = spec
        self.context = TuneContext(spec)
        self.trial_id: str = spec["trial_id"]
        self.clock = clock
        self.iteration: int = spec.get("iteration", 0)
        self.iterations_since_restore = 0
        self.time_offset: float = spec.get("time_total_s", 0.0)
        self.sync_every: int = spec.get("sync_every", 1)
        self.checkpoint_index: int = spec.get("checkpoint_index", 0)
        self.storage = spec.get("storage")  # a TrialStorage for remote storage, else None
        self.uploads = None
        restore = spec.get("restore_path")
        self.checkpoint = None
        if restore and self.storage is not None:
            self.checkpoint = self.storage.checkpoint(restore)  # remote, downloaded when read
        elif restore:
            self.checkpoint = Checkpoint(restore)
        if self.storage is not None:
            from caliper.tune.trial_storage import TrialUploads

            self.uploads = TrialUploads(self.storage, spec["trial_dir"])
        self.started = self.last = clock()
        self._date_second = -1
        self._date = ""
        self.decision = Decision.CONTINUE
        self.metric: str | None = spec.get("metric")  # a result without it is sent at once
        self.writer = None
        self._batch: list[dict] = []  # results not sent yet (none that anything may stop at)
        self._batch_started = 0.0
        self._constants = self.constant_fields()
        if spec.get("writers"):
            from caliper.tune.result_writer import ResultWriter

            self.writer = ResultWriter(spec, spec["writers"])

    def send_batch(self) -> None:
        """Send the results gathered without waiting (one message for many)."""
        if self._batch:
            batch, self._batch = self._batch, []
            channel.post_nowait((self.trial_id, batch, None, None))

    def close(self, failed: bool = False) -> None:
        """The run ended: send what is gathered, close the result files (and upload them, on
        another machine than a remote storage's driver)."""
        self.send_batch()
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close(failed)
        if self.uploads is not None:
            self.uploads.upload()

    def _write(self, result: dict) -> None:
        if self.writer is not None:
            full = dict(result)  # the loggers add the config themselves
            full.update(self._constants)
            self.writer.write(full)

    def result_fields(self, metrics: Mapping[str, Any]) -> dict:
        """``metrics`` plus the fields Ray adds to every result."""
        now = self.clock()
        self.iteration += 1
        self.iterations_since_restore += 1
        result = dict(metrics)
        result.setdefault("training_iteration", self.iteration)
        result.setdefault("time_this_iter_s", now - self.last)
        result.setdefault("time_total_s", now - self.started + self.time_offset)
        result.setdefault("time_since_restore", now - self.started)
        result.setdefault("iterations_since_restore", self.iterations_since_restore)
        second = int(now)
        result["timestamp"] = second
        if second != self._date_second:  # formatting a date costs more than a result
            self._date_second = second
            self._date = datetime.fromtimestamp(second).strftime("%Y-%m-%d_%H-%M-%S")
        result["date"] = self._date
        result.setdefault("done", False)  # a class trainable's step may say it is done
        # trial_id, experiment_tag, pid, hostname, node_ip: the same in every result of this
        # run, sent once (``constant_fields``) and added by the driver
        self.last = now
        return result

    def constant_fields(self) -> dict:
        return {
            "trial_id": self.trial_id,
            "experiment_tag": self.spec["experiment_tag"],
            "pid": os.getpid(),  # not at import: the module may be imported before a fork
            "hostname": hostname(),
            "node_ip": "127.0.0.1",
        }

    def persist(self, checkpoint: Checkpoint) -> str:
        """Copy ``checkpoint`` into the trial directory (``checkpoint_000003``)."""
        import shutil

        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(
                "tune.report(checkpoint=...) takes a tune.Checkpoint, e.g. "
                f"Checkpoint.from_directory(path), got {type(checkpoint).__name__}"
            )
        target = os.path.join(self.spec["trial_dir"], f"checkpoint_{self.checkpoint_index:06d}")
        self.checkpoint_index += 1
        if self.storage is not None:
            return self._upload(checkpoint, target)
        if os.path.abspath(checkpoint.path) != target:
            if os.path.exists(target):  # left by an earlier run that started over
                shutil.rmtree(target)
            partial = target + ".partial"  # a crash mid-copy leaves no checkpoint_NNNNNN
            shutil.rmtree(partial, ignore_errors=True)
            if checkpoint._temporary:  # from_dict's own directory: nobody else holds it
                shutil.move(checkpoint.path, partial)
            else:
                shutil.copytree(checkpoint.path, partial)
            os.replace(partial, target)
        checkpoint._stored_as(target)
        self.checkpoint = Checkpoint(target)
        return target

    def _upload(self, checkpoint: Checkpoint, target: str) -> str:
        """Put ``checkpoint`` under the remote storage as ``target`` would be (nothing stays
        in the trial directory); returns ``target``, its name in the experiment."""
        import shutil

        from caliper.tune.remote_files import upload_checkpoint

        remote = self.storage.remote(target)
        if checkpoint.filesystem is not None:  # already stored: a copy through this process
            with checkpoint.as_directory() as folder:
                upload_checkpoint(folder, self.storage.filesystem, remote)
        else:
            upload_checkpoint(checkpoint.path, self.storage.filesystem, remote)
            if os.path.abspath(checkpoint.path) == target:  # saved in place (a Trainable)
                shutil.rmtree(target, ignore_errors=True)
        checkpoint._stored_as(remote, self.storage.filesystem)
        self.checkpoint = Checkpoint(remote, filesystem=self.storage.filesystem)
        return target

    def restore_directory(self):
        """A context manager giving the checkpoint to resume from as a local directory."""
        return self.checkpoint.as_directory()

    def report(self, metrics: Mapping[str, Any], checkpoint: Checkpoint | None = None) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"tune.report takes a dict of metrics, e.g. tune.report({{'loss': 0.1}}), "
                f"got {type(metrics).__name__}"
            )
        result = self.result_fields(metrics)
        path = self.persist(checkpoint) if checkpoint is not None else None
        metric = self.metric
        if (
            path is None
            and self.iteration % self.sync_every
            and (metric is None or metric in result)  # else the driver ends the trial now
        ):
            self._write(result)
            if self.iterations_since_restore == 1:  # the run's first result: sent at once,
                # with the fields that are the same in all its results
                channel.post_nowait((self.trial_id, [result], None, self._constants))
                return
            batch = self._batch
            batch.append(result)
            now = time.monotonic()
            if len(batch) == 1:
                self._batch_started = now
            if len(batch) >= _BATCH or now - self._batch_started >= _BATCH_S:
                self.send_batch()
            return
        self.send_batch()  # results before this one reach the driver first
        first = self.iterations_since_restore == 1
        message = (self.trial_id, [result], path, self._constants if first else None)
        if path is not None:  # in the files before the driver counts the checkpoint
            self._write(result)
            if self.uploads is not None:
                self.uploads.upload()
        decision = Decision(channel.post(message))
        if path is None:
            if decision is Decision.STOP:
                result["done"] = True  # the trial's last result, as Ray marks it
            self._write(result)
        if decision is not Decision.CONTINUE:
            self.decision = decision
            raise StopTrial


class _Current:
    """The trial running in this process (one at a time; its threads may all report)."""

    session: Session | None = None


def set_session(session: Session | None) -> None:
    _Current.session = session


def get_session() -> Session | None:
    return _Current.session


def _session(what: str) -> Session:
    session = get_session()
    if session is None:
        raise RuntimeError(
            f"tune.{what}() was called outside a trial; call it inside the function you pass "
            "to tune.Tuner"
        )
    return session


def report(metrics: Mapping[str, Any], *, checkpoint: Checkpoint | None = None) -> None:
    """Report ``metrics`` (a dict) of the running trial, with an optional checkpoint.

    Returns once the controller took the result; if the trial is to stop here, the trainable
    is unwound from this call (its ``finally`` blocks run).
    """
    _session("report").report(metrics, checkpoint)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from (``None`` on a fresh start)."""
    return _session("get_checkpoint").checkpoint


def get_context() -> TuneContext:
    """The running trial's id, name, directory, resources and experiment name."""
    return _session("get_context").context
