"""TensorBoard event files per trial (``tensorboard --logdir <experiment>`` shows every
trial's curves), written with tensorboardX when it is installed."""

from __future__ import annotations

import importlib.util
import numbers
import sys
from typing import Any

from caliper.tune.logger.logger import LoggerCallback, flatten_dict

_SKIP = frozenset({"timestamp", "pid", "training_iteration", "done", "time_this_iter_s"})


# tensorboardX tries these optional imports at import time; torch alone takes ~2 s to import,
# and scalars need none of them. They are hidden while tensorboardX imports (unless already
# imported), then visible again, so the user's own ``import torch`` is unaffected.
_OPTIONAL = ("torch", "boto3", "botocore", "comet_ml")


def import_tensorboardx() -> Any:
    """The ``tensorboardX`` module (ImportError if it is not installed), imported fast."""
    if "tensorboardX" in sys.modules:
        return sys.modules["tensorboardX"]
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # makes ``import name`` raise ImportError at once
    try:
        import tensorboardX
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return tensorboardX


def tensorboardx_available() -> bool:
    return importlib.util.find_spec("tensorboardX") is not None


class TBXLoggerCallback(LoggerCallback):
    """Writes each numeric metric as a scalar ``ray/tune/<metric>`` at step
    ``training_iteration`` (Ray's tag names, so existing dashboards work), and the trial's
    config as hyperparameters when it ends."""

    def __init__(self) -> None:
        try:
            self._tbx = import_tensorboardx()
        except ImportError as exc:
            raise ImportError(
                "TBXLoggerCallback needs tensorboardX: pip install 'caliper[tensorboard]'"
            ) from exc
        self._writer_class = self._tbx.SummaryWriter
        self._writers: dict[str, Any] = {}
        self._last: dict[str, dict] = {}

    def log_trial_start(self, trial: Any) -> None:
        if trial.trial_id not in self._writers:
            self._writers[trial.trial_id] = self._writer_class(
                logdir=trial.path, flush_secs=30, filename_suffix=""
            )

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        writer = self._writers.get(trial.trial_id)
        if writer is None:
            self.log_trial_start(trial)
            writer = self._writers[trial.trial_id]
        step = result.get("training_iteration", iteration)
        flat = flatten_dict({k: v for k, v in result.items() if k != "config"})
        for key, value in flat.items():
            if key in _SKIP or isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue
            writer.add_scalar(f"ray/tune/{key}", value, global_step=step)
        self._last[trial.trial_id] = flat

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        writer = self._writers.pop(trial.trial_id, None)
        if writer is None:
            return
        last = self._last.pop(trial.trial_id, {})
        params = {
            k: v
            for k, v in flatten_dict(trial.config).items()
            if isinstance(v, str | bool | int | float)
        }
        metrics = {
            f"ray/tune/{k}": v
            for k, v in last.items()
            if k not in _SKIP and isinstance(v, numbers.Real) and not isinstance(v, bool)
        }
        if params:
            try:  # into the trial's own event file (add_hparams would make a subfolder)
                from tensorboardX.summary import hparams

                for summary in hparams(params, metrics):
                    writer.file_writer.add_summary(summary)
            except Exception:  # hparams are a convenience; the scalars are written
                pass
        writer.close()

    def flush(self) -> None:
        pass  # tensorboardX flushes on its own every flush_secs and at close

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
