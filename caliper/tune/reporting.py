"""What the experiment tells the person watching: the live progress table, the per-trial lines
of ``verbose`` 2 and 3, errors as they happen, and the summary at the end.

A thin layer between the controller and :mod:`caliper.tune.progress` (which renders), so the
controller only says what happened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from caliper.tune import progress
from caliper.tune.config import RunConfig, TuneConfig
from caliper.tune.trial import Trial
from caliper.tune.variants import find_variables

_PERIOD_S = 0.5  # how often the controller offers the reporter a chance to draw


def _by_path(item: tuple) -> tuple:
    return tuple(str(part) for part in item[0])


class Reporting:
    """See the module docstring.

    Args:
        run_config, tune_config: the experiment's configuration (verbose, reporter, metric).
        experiment_path: where the results are, for the summary.
        clock: monotonic seconds.
    """

    def __init__(
        self,
        run_config: RunConfig,
        tune_config: TuneConfig,
        experiment_path: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verbose = 1 if run_config.verbose is None else run_config.verbose
        self.experiment_path = experiment_path
        self.clock = clock
        self.metric, self.mode = tune_config.metric, tune_config.mode
        self.reporter: Any = None
        if self.verbose > 0:
            self.reporter = run_config.progress_reporter or progress.default_reporter(self.verbose)
        self._next = clock()

    def setup(
        self, metric: str | None, mode: str | None, num_samples: int, param_space: dict
    ) -> None:
        self.metric, self.mode = metric, mode
        if self.reporter is not None:
            grid, domains = find_variables(param_space)
            keys = ["/".join(map(str, path)) for path, _ in sorted(grid + domains, key=_by_path)]
            self.reporter.setup(
                total_samples=None if num_samples == -1 else num_samples,
                metric=metric,
                mode=mode,
                verbose=self.verbose,
                parameter_keys=keys,
            )

    def next_due(self, now: float) -> float:
        """When the controller should come back even if nothing happens."""
        return max(self._next, now) if self.reporter is not None else now + 1.0

    def maybe_report(self, trials: list[Trial], now: float) -> None:
        if self.reporter is None or now < self._next:
            return
        self._next = now + _PERIOD_S
        if self.reporter.should_report(trials, done=False):
            self.reporter.report(trials, False)

    def _line(self, level: int, text: str) -> None:
        if self.verbose >= level:
            print(text, file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        self._line(1, text)

    def _event(self, level: int, trial: Trial, event: str, result: dict | None = None) -> None:
        if self.verbose < level:
            return
        if hasattr(self.reporter, "report_trial_event"):
            self.reporter.report_trial_event(trial, event, result)
        else:
            self._line(level, progress.trial_event_line(trial, event, result, metric=self.metric))

    def on_result(self, trial: Trial, result: dict) -> None:
        if self.verbose >= 3:
            self._event(3, trial, "result", result)

    def on_end(self, trial: Trial) -> None:
        self._event(2, trial, "complete")

    def on_retry(self, trial: Trial, text: str) -> None:
        self._line(1, f"Trial {trial} failed (failure {trial.num_failures}); retrying.")

    def on_error(self, trial: Trial, text: str) -> None:
        if self.verbose >= 1:
            tail = "\n".join(text.rstrip().splitlines()[-12:])
            print(
                f"Trial {trial} errored (the experiment goes on). Error file: "
                f"{trial.error_file}\n{tail}",
                file=sys.stderr,
                flush=True,
            )

    def end(self, trials: list[Trial], status: Any, elapsed_s: float) -> None:
        if self.reporter is not None:
            try:
                self.reporter.report(trials, True)
            except Exception:  # the display must never lose the experiment
                pass
            finally:
                close = getattr(self.reporter, "close", None)
                if close is not None:
                    close()
        if self.verbose >= 1:
            summary = progress.final_summary(
                trials, self.metric, self.mode, self.experiment_path, elapsed_s
            )
            if getattr(status, "value", status) == "INTERRUPTED":
                summary = (
                    "Experiment interrupted (Ctrl-C); its state is saved. To resume it: "
                    f"caliper.tune.Tuner.restore({self.experiment_path!r}, trainable=...).fit()\n"
                    + summary
                )
            print(summary, flush=True)
