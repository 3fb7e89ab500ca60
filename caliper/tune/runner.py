"""The actor a trial runs in: :class:`TrialRunner` runs one trial per ``run`` call, and with
``reuse_actors`` the next trial with the same resources in the same process.

``run`` returns when the trainable ended (returned, or was stopped at a report); results went
to the driver on the way (:mod:`caliper.tune.session`). An exception from the trainable
propagates, so the controller sees a ``TaskError`` with the trial's traceback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

from caliper.core import context
from caliper.tune import session as sessions
from caliper.tune.params_files import write_params_files
from caliper.tune.session import Session, StopTrial
from caliper.tune.trainable import Trainable
from caliper.tune.trial import Decision


def _at_once(fn) -> None:
    fn()


class RunOutcome(dict):
    """What ``run`` returns: ``decision`` (the one that ended the run, CONTINUE if the
    trainable finished), ``iteration`` and ``checkpoint`` (saved on pause, else ``None``)."""


def _output_files(spec: Mapping[str, Any]) -> tuple[str, str] | None:
    log_to_file = spec.get("log_to_file")
    if not log_to_file:
        return None
    if log_to_file is True:
        return "stdout", "stderr"
    if isinstance(log_to_file, str):
        return log_to_file, log_to_file
    return tuple(log_to_file)


@contextlib.contextmanager
def _redirected(spec: Mapping[str, Any]):
    names = _output_files(spec)
    if names is None:
        yield
        return
    out_path, err_path = (os.path.join(spec["trial_dir"], name) for name in names)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(out_path, "a", encoding="utf-8"))
        err = out if err_path == out_path else stack.enter_context(open(err_path, "a"))
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        yield


class TrialRunner:
    """Actor class; ``trainable`` is a function of the config or a :class:`Trainable`
    subclass."""

    def __init__(self, trainable: Any) -> None:
        self.trainable = trainable
        self.instance: Trainable | None = None  # a class trainable kept for reuse

    def run(self, spec: Mapping[str, Any]) -> RunOutcome:
        params = spec.get("params")
        if params is not None:  # the trial's params files, once the driver has its answer
            trial_dir = spec["trial_dir"]
            backend = context.peek()  # None: run in this process, no reply to send first
            later = backend.after_reply if backend is not None else _at_once
            later(lambda: write_params_files(trial_dir, params))
        session = Session(spec)
        sessions.set_session(session)
        checkpoint = None
        failed = True
        try:
            with _redirected(spec):
                if isinstance(self.trainable, type):
                    checkpoint = self._run_class(spec, session)
                else:
                    self._run_function(spec, session)
            failed = False
        except StopTrial:
            failed = False
        finally:
            sessions.set_session(None)
            session.close(failed)
        return RunOutcome(
            decision=int(session.decision), iteration=session.iteration, checkpoint=checkpoint
        )

    def _run_function(self, spec: Mapping[str, Any], session: Session) -> None:
        value = self.trainable(dict(spec["config"]))
        if isinstance(value, Mapping):
            session.report(value)  # a returned dict is the final result
        elif value is not None:
            raise TypeError(
                "a function trainable may return a dict of final metrics or None, got "
                f"{type(value).__name__}"
            )

    def _instance(self, spec: Mapping[str, Any]) -> Trainable:
        cls = self.trainable
        info = {k: spec[k] for k in ("trial_id", "trial_name", "trial_dir")}
        old = self.instance
        if old is not None and type(old) is cls:
            previous = (old.config, old._trial_id, old._trial_name, old._logdir)
            old.config = dict(spec["config"])  # reset_config sees the new trial, as in Ray
            old._trial_id, old._trial_name, old._logdir = (
                info["trial_id"],
                info["trial_name"],
                info["trial_dir"],
            )
            if old.reset_config(dict(spec["config"])):
                old._iteration = 0
                return old
            old.config, old._trial_id, old._trial_name, old._logdir = previous
        if old is not None:
            self.instance = None
            old.stop()
        return cls(dict(spec["config"]), trial_info=info)

    def _run_class(self, spec: Mapping[str, Any], session: Session) -> str | None:
        trainable = self._instance(spec)
        keep = (
            spec.get("reuse", False) and type(trainable).reset_config is not Trainable.reset_config
        )
        frequency = spec.get("checkpoint_frequency", 0)
        at_end = spec.get("checkpoint_at_end", False)
        if spec.get("restore_path"):
            with session.restore_directory() as folder:  # downloaded from remote storage
                trainable.restore(folder)
        trainable._iteration = session.iteration
        try:
            while True:
                result = trainable.step()
                if not isinstance(result, Mapping):
                    raise TypeError(
                        f"{type(trainable).__name__}.step() must return a dict, got "
                        f"{type(result).__name__}"
                    )
                trainable._iteration += 1
                done = bool(result.get("done", False))
                checkpoint = None
                if (frequency and trainable._iteration % frequency == 0) or (done and at_end):
                    checkpoint = self._save(trainable, session)
                try:
                    session.report(result, checkpoint=checkpoint)
                except StopTrial:
                    if session.decision is Decision.PAUSE or (at_end and checkpoint is None):
                        return session.persist(self._save(trainable, session))  # to resume
                    raise
                if done:
                    return None
        finally:
            if keep:
                self.instance = trainable
            else:
                trainable.stop()

    @staticmethod
    def _save(trainable: Trainable, session: Session):
        from caliper.tune.checkpoint import Checkpoint

        path = os.path.join(session.spec["trial_dir"], f"checkpoint_{session.checkpoint_index:06d}")
        trainable.save(path)
        return Checkpoint(path)

    def close(self) -> None:
        """End a class trainable kept for reuse (its ``cleanup`` runs)."""
        if self.instance is not None:
            instance, self.instance = self.instance, None
            instance.stop()
