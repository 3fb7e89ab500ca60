"""The experiment loop: asks the searcher for configs, starts trials as resources allow, takes
their results, applies the scheduler's and stoppers' decisions, feeds callbacks and loggers,
and snapshots the experiment state.

One loop step: start what may start, then write (params files, snapshots) while they run; wait
for results (posts from trials) or ended runs; decide on each result and answer the trials in
one batch; then log (loggers flush after the answers went out); then handle ended runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from caliper.core import channel
from caliper.schedulers.actions import Exploit, StopTrial
from caliper.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler
from caliper.searchers.basic_variant import BasicVariantGenerator
from caliper.searchers.searcher import FINISHED, Searcher, innermost
from caliper.tune import naming
from caliper.tune.callback import CallbackList
from caliper.tune.checkpoint import prune_checkpoints
from caliper.tune.config import RunConfig, TuneConfig
from caliper.tune.errors import trial_error_text
from caliper.tune.experiment_state import ExperimentStatus
from caliper.tune.exploits import apply_exploit, stage_exploit
from caliper.tune.logger.choice import driver_loggers, worker_writers
from caliper.tune.logger.json import RESULT_FILE, read_tail
from caliper.tune.logger.logger import LoggerCallback
from caliper.tune.params_files import NewTrialFiles
from caliper.tune.reporting import Reporting
from caliper.tune.restore import relocate
from caliper.tune.snapshots import Snapshots
from caliper.tune.stoppers import NoopStopper, as_stopper
from caliper.tune.storage import Storage, json_safe
from caliper.tune.trainable_wrappers import resources_by_config
from caliper.tune.trial import AUTO_FIELDS, Decision, Trial, TrialStatus
from caliper.tune.trial_executor import TrialExecutor

_STOP, _CONTINUE = int(Decision.STOP), int(Decision.CONTINUE)
_ASYNC_WINDOW = 512  # a trial that cannot be stopped at a result waits every 512th report
_NO_LIMIT = 2**31


class ExperimentError(RuntimeError):
    """The experiment cannot go on (an impossible trial, ``fail_fast``)."""


class TuneController:
    """Runs one experiment (see the module docstring).

    Args:
        trainable: function or ``Trainable`` subclass, possibly wrapped by ``with_resources``.
        param_space: the search space.
        tune_config, run_config: the user's configuration.
        storage: the experiment directory.
        clock: monotonic seconds (injected for tests).
        restored: what ``Tuner.restore`` read: ``trials``, ``searcher_state``,
            ``scheduler_state``.
    """

    def __init__(
        self,
        trainable: Any,
        param_space: dict,
        tune_config: TuneConfig,
        run_config: RunConfig,
        storage: Storage,
        clock: Callable[[], float] = time.monotonic,
        restored: dict | None = None,
    ) -> None:
        self.trainable = trainable
        self.param_space = param_space
        self._tag_paths = naming.tag_paths(param_space)
        self._resources = resources_by_config(trainable)
        self.tune_config = tune_config
        self.run_config = run_config
        self.storage = storage
        self.clock = clock
        self.metric, self.mode = tune_config.metric, tune_config.mode
        self.trials: list[Trial] = []
        self.by_id: dict[str, Trial] = {}
        self._queue: dict[str, Trial] = {}  # PENDING and PAUSED trials, in order
        self.params = NewTrialFiles(delegate=False)  # see setup
        self.iteration = 0
        self.searcher: Searcher = tune_config.search_alg or BasicVariantGenerator(
            random_state=tune_config.search_seed
        )
        self.scheduler: TrialScheduler = tune_config.scheduler or FIFOScheduler()
        self.stopper = as_stopper(run_config.stop)
        self._has_stopper = not isinstance(self.stopper, NoopStopper)
        self._decides = self.scheduler.decides_per_result
        self._limit = _NO_LIMIT
        self._search_done = False
        self._variants: BasicVariantGenerator | None = None
        self._told_search_done = False
        self._stalled = False
        self._stop_all = False
        self._fail_fast_error: BaseException | None = None
        self._metric_errors: dict[str, str] = {}
        self._exploits: dict[str, tuple] = {}  # (action, staged checkpoint) until a run ends
        self._pausing: set[str] = set()  # trials told to pause whose run has not ended
        self._hex = os.urandom(3).hex()[:5]
        self.status = ExperimentStatus.RUNNING
        self.start_time = time.time()
        self._started = clock()
        self._last_snapshot = -1e9
        self._changed = False  # a trial changed status since the last snapshot
        self._snapshot_cost = 0.0
        self.executor: TrialExecutor | None = None
        self._restored = restored
        self.reporting = Reporting(run_config, tune_config, storage.experiment_path, clock)
        self.snapshots = Snapshots(storage, self.reporting.note)
        user = list(run_config.callbacks or [])
        self.callbacks = CallbackList([*user, *driver_loggers(user)])
        self._writers = worker_writers(run_config.callbacks or [])

    # -- setting up ----------------------------------------------------------------------------

    def setup(self) -> None:
        """Everything that can fail before a trial starts fails here."""
        tc = self.tune_config
        ckpt = self.run_config.checkpoint_config
        if not isinstance(self.trainable, type) and (
            ckpt.checkpoint_frequency or ckpt.checkpoint_at_end
        ):
            raise ValueError(
                "CheckpointConfig.checkpoint_frequency and checkpoint_at_end apply to class "
                "trainables (tune.Trainable); a function trainable saves checkpoints itself "
                "with tune.report(..., checkpoint=...)"
            )
        num_samples = _NO_LIMIT if tc.num_samples == -1 else tc.num_samples
        self.searcher.set_search_properties(
            self.metric, self.mode, self.param_space, num_samples=num_samples
        )
        self._variants = innermost(self.searcher)  # grid/random search, possibly wrapped
        if not isinstance(self._variants, BasicVariantGenerator):
            self._variants = None
            self._limit = num_samples  # a model-based searcher suggests for ever
        self.scheduler.set_search_properties(self.metric, self.mode, config=self.param_space)
        reuse = tc.reuse_actors
        if reuse is None:
            reuse = not isinstance(self.trainable, type)
        self.executor = TrialExecutor(self.trainable, reuse)
        # a reused runner on this machine writes its trial's params files (see params_files)
        self.params.delegate = reuse and self.executor.local and not self.storage.trial_storage
        if self._restored is not None:
            self._take_restored(self._restored)
        self.storage.makedirs()
        self.callbacks.call("setup", stop=self.run_config.stop, num_samples=tc.num_samples)
        total = self._variants.total if self._variants and tc.num_samples != -1 else None
        self.reporting.setup(self.metric, self.mode, total or tc.num_samples, self.param_space)

    def _take_restored(self, restored: dict) -> None:
        """Continue a restored experiment: its trials, its searcher's and scheduler's state."""
        self.trials = list(restored["trials"])
        self.by_id = {t.trial_id: t for t in self.trials}
        for trial in self.trials:
            relocate(trial, self.storage)
            if trial.status is TrialStatus.PENDING:
                reason = self.executor.infeasible_reason(trial.resources)
                if reason is not None:
                    raise ExperimentError(f"trial {trial} can never start here: {reason}")
        if self.trials:
            self._hex = self.trials[0].trial_id.rpartition("_")[0] or self._hex
        if restored.get("searcher_state") is not None:
            self.searcher.load_state_dict(restored["searcher_state"])
        if self._variants is not None:
            # its configs follow from its seed: it goes on after the trials the state file
            # holds (a trial made after the last snapshot is made again, with the same config)
            self._variants.handed_out = len(self.trials)
            self._variants.live = {t.trial_id for t in self.trials if not t.is_finished}
        if restored.get("scheduler_state") is not None:
            self.scheduler.load_state_dict(restored["scheduler_state"])
        for trial_id in restored.get("ended", ()):  # unfinished, ended by the restore
            trial = self.by_id[trial_id]
            self.searcher.on_trial_complete(trial_id, trial.last_result or None)
            self.scheduler.on_trial_complete(trial, trial.last_result or None)
        for trial_id in restored.get("revived", ()):  # errored, to run again
            self.scheduler.on_trial_add(self.by_id[trial_id])
        self.start_time = restored.get("start_time") or self.start_time
        known = restored.get("scheduler_state") is not None  # it knows the trials it saw
        for trial in self.trials:
            if trial.status in (TrialStatus.PENDING, TrialStatus.PAUSED):
                self._enqueue(trial, trial.status)
                if not known:
                    self.scheduler.on_trial_add(trial)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> list[Trial]:
        """Run the experiment to its end; returns the trials."""
        self.setup()
        self.snapshot()  # restorable from the first instant on
        try:
            self._loop()
            self.status = ExperimentStatus.FINISHED
        except KeyboardInterrupt:
            self.status = ExperimentStatus.INTERRUPTED
        except BaseException:
            self.status = ExperimentStatus.ERROR
            raise
        finally:
            self._end()
        if (
            self._fail_fast_error is not None
            and self.run_config.failure_config.fail_fast == "raise"
        ):
            raise self._fail_fast_error
        return self.trials

    def _loop(self) -> None:
        budget = self.tune_config.time_budget_s
        deadline = None if budget is None else self._started + budget
        executor = self.executor
        while not self._stop_all:
            self._start_trials()
            self.params.write_pending()  # while the trials just started run
            self._tick()  # likewise
            if not executor.running and (self._search_done or not self._waiting()):
                break  # nothing runs and nothing can start
            now = self.clock()
            if deadline is not None and now >= deadline:
                self.reporting.note(f"Time budget of {self.tune_config.time_budget_s} s reached.")
                break
            timeout = self.reporting.next_due(now) - now
            if deadline is not None:
                timeout = min(timeout, deadline - now)
            posts, ended = channel.receive(list(executor.running), max(timeout, 0.0))
            self.iteration += 1
            self.callbacks.call("on_step_begin", self.iteration, self.trials)
            if posts:
                self._on_posts(posts)
            for ref in ended:
                self._on_run_end(ref)
            if posts or ended:
                self._take_actions()
            self.callbacks.call("on_step_end", self.iteration, self.trials)

    def _tick(self) -> None:
        now = self.clock()
        self.reporting.maybe_report(self.trials, now)
        since = now - self._last_snapshot
        if since >= max(1.0, 20 * self._snapshot_cost) or (
            self._changed and since >= max(0.1, 20 * self._snapshot_cost)
        ):  # soon after a trial changed status, at least every second while results come
            self.snapshot()

    def _waiting(self) -> list[Trial]:
        """PENDING and PAUSED trials, oldest first (kept as they change, not searched for)."""
        return list(self._queue.values())

    def _enqueue(self, trial: Trial, status: TrialStatus) -> None:
        trial.status = status
        self._changed = True
        self._queue[trial.trial_id] = trial

    # -- starting trials -----------------------------------------------------------------------

    def _start_trials(self) -> None:
        executor = self.executor
        cap = self.tune_config.max_concurrent_trials
        self._take_actions()  # e.g. stops a restored scheduler asks for again
        while not self._stop_all and (cap is None or len(executor.running) < cap):
            trial = self.scheduler.choose_trial_to_run(self._waiting())
            if trial is None:
                if self._new_trial() is None:
                    if self._search_done and not self._told_search_done:
                        self._told_search_done = True  # e.g. HyperBand: go on with a
                        self.scheduler.on_search_finished()  # partly filled bracket
                        self._take_actions()
                        continue
                    if not executor.running and self._waiting():
                        self._unstall()  # else nothing would ever change
                        continue
                    return
                continue
            if not executor.fits(trial.resources):
                return
            self._start(trial)

    def _unstall(self) -> None:
        """Nothing runs or can start (e.g. HyperBand's paused trials fill a ConcurrencyLimiter):
        the scheduler goes on with what there is (once; then it is an error, not a hang)."""
        if self._stalled:
            waiting = ", ".join(f"{t} ({t.status.value})" for t in self._waiting())
            raise ExperimentError(
                f"no trial can go on: {waiting} wait, {type(self.scheduler).__name__} chose "
                f"none of them and {type(self.searcher).__name__} suggests no new trial"
            )
        self._stalled = True  # until a trial starts
        self.scheduler.on_stall()
        self._take_actions()

    def _new_trial(self) -> Trial | None:
        if self._search_done or len(self.trials) >= self._limit:
            self._search_done = True
            return None
        trial_id = naming.trial_id(self._hex, len(self.trials))
        config = self.searcher.suggest(trial_id)
        if config is None:
            return None
        if config == FINISHED:
            self._search_done = True
            return None
        resources = self._resources(config)
        reason = self.executor.infeasible_reason(resources)
        if reason is not None:
            raise ExperimentError(f"trial {trial_id} can never start: {reason}")
        index = len(self.trials)
        trial = Trial(
            trial_id=trial_id,
            config=config,
            experiment_tag=naming.experiment_tag(index, config, self._tag_paths),
            resources=resources,
        )
        tc = self.tune_config
        trial.dirname, trial.name = naming.dirname_and_name(
            trial, self.trainable, tc.trial_dirname_creator, tc.trial_name_creator, datetime.now()
        )
        trial.path, made = self.storage.new_dir(trial.dirname)
        self.params.add(trial, made)  # its files once it started (see params_files)
        self.trials.append(trial)
        self.by_id[trial_id] = trial
        self._enqueue(trial, TrialStatus.PENDING)
        self.scheduler.on_trial_add(trial)
        self._take_actions()  # e.g. a replayed schedule sets the first config
        return trial

    def _spec(self, trial: Trial) -> dict:
        sync_every = 1 if (self._decides or self._has_stopper) else _ASYNC_WINDOW
        ckpt_cfg = self.run_config.checkpoint_config
        return {
            **trial.run_spec(),
            **self.params.run_fields(trial),
            "experiment_name": self.storage.name,
            "sync_every": sync_every,
            "log_to_file": self.run_config.log_to_file,
            "writers": self._writers,
            "metric": self.metric,
            "reuse": self.executor.reuse_actors,
            "checkpoint_frequency": ckpt_cfg.checkpoint_frequency,
            "checkpoint_at_end": bool(ckpt_cfg.checkpoint_at_end),
            "storage": self.storage.trial_storage,  # None for a local path
        }

    def _start(self, trial: Trial) -> None:
        self._stalled = False
        self.executor.start(trial, self._spec(trial))
        self._queue.pop(trial.trial_id, None)
        trial.status = TrialStatus.RUNNING
        self._changed = True
        trial.start_time = self.clock()
        self.callbacks.call("on_trial_start", self.iteration, self.trials, trial)
        if trial.restore_path is not None:
            self.callbacks.call("on_trial_restore", self.iteration, self.trials, trial)

    # -- results -------------------------------------------------------------------------------

    def _on_posts(self, posts: list) -> None:
        answers = []
        taken = []
        by_id = self.by_id
        running = TrialStatus.RUNNING
        for post in posts:
            try:
                trial_id, results, checkpoint, constants = post.value()
            except Exception as exc:  # a result the driver cannot unpickle
                answers.append((post, _STOP))
                self.reporting.note(f"A result could not be read and was dropped: {exc!r}")
                continue
            trial = by_id.get(trial_id)
            if trial is None or trial.status is not running or trial_id in self._metric_errors:
                answers.append((post, _STOP))
                continue
            if constants is not None:  # the first result of a run carries them
                trial.constant_fields = constants
            decision = Decision.CONTINUE
            last = len(results) - 1
            for i, result in enumerate(results):  # a batch: results nothing stops at
                result.update(trial.constant_fields)
                decision = self._on_result(trial, result, checkpoint if i == last else None)
                taken.append((trial, result, checkpoint if i == last else None))
                if trial.trial_id in self._metric_errors:
                    break
            answers.append((post, int(decision)))
        channel.answer(answers)  # trials go on while the results are logged
        on_result = self.callbacks.hooks["on_trial_result"]
        iteration, trials = self.iteration, self.trials
        for trial, result, checkpoint in taken:
            for hook in on_result:
                hook(iteration, trials, trial, result)
            self.reporting.on_result(trial, result)
            if checkpoint is not None:
                self._notify_checkpoint(trial, checkpoint)
        for callback in self.callbacks.callbacks:
            if isinstance(callback, LoggerCallback):
                callback.flush()

    def _on_result(self, trial: Trial, result: dict, checkpoint: str | None) -> Decision:
        metric = self.metric
        if metric is not None and metric not in result:
            reported = sorted(k for k in result if k not in AUTO_FIELDS)
            self._metric_errors[trial.trial_id] = (
                f"trial {trial} reported a result without the metric {metric!r} that "
                f"TuneConfig(metric=...) names; it reported {reported or 'no metrics'}"
            )
            return Decision.STOP
        result["config"] = trial.config
        trial.record(result)
        if checkpoint is not None:  # callbacks hear of it after the result's hooks
            self._register_checkpoint(trial, checkpoint, result, notify=False)
            score = self.run_config.checkpoint_config.checkpoint_score_attribute
            if score is not None and score not in result:
                reported = sorted(k for k in result if k not in AUTO_FIELDS)
                self._metric_errors[trial.trial_id] = (
                    f"trial {trial} saved a checkpoint with a result without "
                    f"CheckpointConfig.checkpoint_score_attribute {score!r}; it reported "
                    f"{reported or 'no metrics'}"
                )
                return Decision.STOP
        decision = (
            self.scheduler.on_trial_result(trial, result) if self._decides else Decision.CONTINUE
        )
        self.searcher.on_trial_result(trial.trial_id, result)
        if self._has_stopper:
            if self.stopper(trial.trial_id, result):
                decision = Decision.STOP
            if self.stopper.stop_all():
                self._stop_all = True
                self.reporting.note("A stopper ended the experiment (stop_all).")
        if decision is Decision.STOP:
            result["done"] = True  # the trial's last result, as Ray marks it
        elif decision is Decision.PAUSE:
            self._pausing.add(trial.trial_id)
        return decision

    def _register_checkpoint(
        self, trial: Trial, path: str, result: dict, notify: bool = True
    ) -> None:
        metrics = json_safe({k: v for k, v in result.items() if k != "config"})
        trial.checkpoints.append({"path": path, "metrics": metrics})
        prune_checkpoints(trial, self.run_config.checkpoint_config, self.storage)
        if notify:
            self._notify_checkpoint(trial, path)

    def _notify_checkpoint(self, trial: Trial, path: str) -> None:
        self.callbacks.call("on_trial_save", self.iteration, self.trials, trial)
        checkpoint = self.storage.checkpoint(path)  # on remote storage, its URI
        self.callbacks.call(
            "on_checkpoint", self.iteration, self.trials, trial, checkpoint=checkpoint
        )

    # -- ended runs ----------------------------------------------------------------------------

    def _on_run_end(self, ref: Any) -> None:
        trial, outcome, error = self.executor.finish(ref)
        self._pausing.discard(trial.trial_id)
        message = self._metric_errors.pop(trial.trial_id, None)
        if message is not None:
            self._fail(trial, message, retry=False)
            return
        if error is not None:
            self.params.settle(trial)  # its process is gone
            self._fail(trial, trial_error_text(error))
            return
        if outcome.get("checkpoint"):
            self._register_checkpoint(trial, outcome["checkpoint"], trial.last_result)
        if Decision(outcome["decision"]) is Decision.PAUSE:
            self._enqueue(trial, TrialStatus.PAUSED)
            trial.restore_path = trial.checkpoint_path
            exploit = self._exploits.pop(trial.trial_id, None)
            if exploit is not None:
                self._exploit(trial, *exploit)
            return
        self._complete(trial)

    # -- the scheduler's actions ----------------------------------------------------------------

    def _take_actions(self) -> None:
        for action in self.scheduler.take_actions():
            trial = self.by_id.get(action.trial_id)
            if trial is None or trial.is_finished:
                continue
            if isinstance(action, StopTrial):
                if trial.status is not TrialStatus.RUNNING:
                    self._queue.pop(trial.trial_id, None)
                    self._complete(trial)
            else:  # the source's checkpoint as of now, even if the trial is still running
                staged = stage_exploit(trial, self.by_id[action.source_id], self.storage)
                self._exploits[trial.trial_id] = (action, staged)
                if trial.status is not TrialStatus.RUNNING:  # else when its run has ended
                    self._exploit(trial, *self._exploits.pop(trial.trial_id))

    def _exploit(self, trial: Trial, action: Exploit, staged: dict | None) -> None:
        source = self.by_id[action.source_id]
        apply_exploit(trial, source, action, staged, self.storage)
        self._changed = True

    def _complete(self, trial: Trial) -> None:
        trial.status = TrialStatus.TERMINATED
        self._changed = True
        if trial.last_result:
            trial.last_result["done"] = True
        self.scheduler.on_trial_complete(trial, trial.last_result)
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result or None)
        self.callbacks.call("on_trial_complete", self.iteration, self.trials, trial)
        self.reporting.on_end(trial)

    def _fail(self, trial: Trial, text: str, retry: bool = True) -> None:
        trial.num_failures += 1
        trial.error_file = os.path.join(trial.path, "error.txt")
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with open(trial.error_file, "a", encoding="utf-8") as f:
            f.write(f"Failure # {trial.num_failures} (occurred at {stamp})\n{text}\n\n")
        max_failures = self.run_config.failure_config.max_failures
        exploit = self._exploits.pop(trial.trial_id, None)  # decided before it failed
        if retry and (max_failures == -1 or trial.num_failures <= max_failures):
            self._enqueue(trial, TrialStatus.PENDING)
            trial.restore_path = trial.checkpoint_path
            if exploit is not None:
                self._exploit(trial, *exploit)
            self.callbacks.call("on_trial_recover", self.iteration, self.trials, trial)
            self.reporting.on_retry(trial, text)
            return
        trial.status = TrialStatus.ERROR
        self._changed = True
        trial.error_msg = text
        self.scheduler.on_trial_error(trial)
        self.searcher.on_trial_complete(trial.trial_id, trial.last_result or None, error=True)
        self.callbacks.call("on_trial_error", self.iteration, self.trials, trial)
        self.reporting.on_error(trial, text)
        if self.run_config.failure_config.fail_fast:
            self._stop_all = True
            self._fail_fast_error = ExperimentError(f"trial {trial} failed (fail_fast):\n{text}")

    # -- the end -------------------------------------------------------------------------------

    def snapshot(self) -> None:
        """Write the experiment's state (see :class:`~caliper.tune.snapshots.Snapshots`)."""
        started = time.perf_counter()
        self.snapshots.write(
            status=self.status,
            start_time=self.start_time,
            metric=self.metric,
            mode=self.mode,
            trials=self.trials,
            searcher=self.searcher,
            scheduler=self.scheduler,
        )
        self._last_snapshot = self.clock()
        self._changed = False
        self._snapshot_cost = time.perf_counter() - started

    def _catch_up(self, trial: Trial) -> None:
        """Take the results a stopped trial wrote to its files but had not sent yet (trials
        send results nothing can stop at in small batches)."""
        if "json" not in self._writers or not trial.path:
            return
        done = trial.last_result.get("training_iteration", 0)
        on_result = self.callbacks.hooks["on_trial_result"]
        for result in read_tail(os.path.join(trial.path, RESULT_FILE), done):
            trial.record(result)
            self.searcher.on_trial_result(trial.trial_id, result)
            for hook in on_result:
                hook(self.iteration, self.trials, trial, result)

    def _end(self) -> None:
        executor = self.executor
        interrupted = self.status is ExperimentStatus.INTERRUPTED
        if executor is not None:
            if executor.running and not interrupted:
                posts, _ = channel.receive([], timeout=0)  # results sent before the stop
                if posts:
                    self._on_posts(posts)
            for ref in list(executor.running):
                trial = executor.stop(ref)
                self._catch_up(trial)
                if interrupted or self.status is ExperimentStatus.ERROR:
                    # resumable, from its checkpoint; paused if a scheduler had paused it
                    paused = trial.trial_id in self._pausing
                    trial.status = TrialStatus.PAUSED if paused else TrialStatus.PENDING
                    trial.restore_path = trial.checkpoint_path
                    exploit = self._exploits.pop(trial.trial_id, None)
                    if exploit is not None:
                        self._exploit(trial, *exploit)
                else:
                    self._complete(trial)  # stopped by the time budget or stop_all
            executor.shutdown(graceful=not interrupted)
            channel.receive([], timeout=0)  # posts of stopped runs: none may reach a later run
        self.params.settle_all()
        self.callbacks.call("on_experiment_end", self.trials)
        self.snapshot()
        self.reporting.end(self.trials, self.status, self.clock() - self._started)
