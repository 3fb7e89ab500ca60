"""TensorBoard event files per trial (``tensorboard --logdir <experiment>`` shows every
trial's curves), written with tensorboardX when it is installed."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from typing import Any

from caliper.tune.logger.logger import LoggerCallback, flatten_dict, has_nested
from caliper.tune.trial import is_number

_FLUSH_S = 5.0
# Ray's TBX logger leaves these out too (they are the step, or not worth a curve).
# The automatic fields that are never numbers are skipped without a look.
_SKIP = frozenset(
    {"config", "pid", "timestamp", "time_total_s", "training_iteration", "done"}
    | {"date", "trial_id", "experiment_tag", "hostname", "node_ip"}
)


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
    config as hyperparameters when it ends. One event per result holds all its scalars and is
    written synchronously (no writer thread and queue per scalar)."""

    def __init__(self) -> None:
        if not tensorboardx_available():
            raise ImportError(
                "TBXLoggerCallback needs tensorboardX: pip install 'caliper[tensorboard]'"
            )
        self._writers: dict[str, Any] = {}
        self._last: dict[str, dict] = {}
        self._flushed = time.monotonic()
        self._classes: tuple | None = None  # imported at the first trial, not before
        self._shapes: dict[tuple, list[tuple[str, str]]] = {}

    def _import(self) -> tuple:
        if self._classes is None:
            import_tensorboardx()
            from tensorboardX.event_file_writer import EventsWriter
            from tensorboardX.proto import event_pb2, summary_pb2

            self._classes = (EventsWriter, event_pb2.Event, summary_pb2.Summary)
        return self._classes

    def log_trial_start(self, trial: Any) -> None:
        if trial.trial_id not in self._writers:
            events_writer = self._import()[0]
            self._writers[trial.trial_id] = events_writer(os.path.join(trial.path, "events"))

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        writer = self._writers.get(trial.trial_id)
        if writer is None:
            self.log_trial_start(trial)
            writer = self._writers[trial.trial_id]
        step = result.get("training_iteration", iteration)
        flat = result
        if has_nested(result):
            flat = flatten_dict({k: v for k, v in result.items() if k != "config"})
        event = self._import()[1](wall_time=time.time(), step=int(step))
        add = event.summary.value.add  # built in place: the cheapest way with protobuf
        for key, tag in self._scalars(flat):
            value = flat[key]
            kind = type(value)
            if kind is float or kind is int or is_number(value):
                add(tag=tag, simple_value=value)
        if event.summary.value:
            writer.write_event(event)
        self._last[trial.trial_id] = flat

    def _scalars(self, flat: dict) -> list[tuple[str, str]]:
        """``(key, tag)`` of the numeric values of results shaped like ``flat`` (cached by
        the keys: results of a trial usually have the same ones)."""
        shape = tuple(flat)
        scalars = self._shapes.get(shape)
        if scalars is None:
            scalars = [(k, f"ray/tune/{k}") for k in flat if k not in _SKIP]
            if len(self._shapes) > 256:
                self._shapes.clear()
            self._shapes[shape] = scalars
        return scalars

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
            if k not in _SKIP and k != "config" and is_number(v)
        }
        if params:
            try:  # the hparams plugin's three summaries, in the trial's own event file
                from tensorboardX.summary import hparams

                for summary in hparams(params, metrics):
                    event_class = self._import()[1]
                    writer.write_event(event_class(wall_time=time.time(), summary=summary))
            except Exception:  # hparams are a convenience; the scalars are written
                pass
        writer.close()

    def flush(self) -> None:
        now = time.monotonic()  # the writer fsyncs: at most every few seconds
        if now - self._flushed >= _FLUSH_S:
            self._flushed = now
            for writer in self._writers.values():
                writer.flush()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
