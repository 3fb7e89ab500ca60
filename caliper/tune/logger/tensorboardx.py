"""TensorBoard event files per trial (``tensorboard --logdir <experiment>`` shows every
trial's curves), written with tensorboardX when it is installed."""

from __future__ import annotations

import importlib.util
import os
import struct
import sys
import time
from typing import Any

from caliper.core.detect import hostname
from caliper.tune.logger.hparams import HParamsEvents
from caliper.tune.logger.logger import LoggerCallback, flatten_dict, has_nested
from caliper.tune.trial import is_number

_FLUSH_S = 5.0
_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
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


class EventFile:
    """One trial's TensorBoard event file: TFRecord frames (the length, its masked CRC32C, the
    serialized ``Event``, its masked CRC32C), each written with one call (tensorboardX's own
    writer makes four calls and a thread per file). Checksums and protos are tensorboardX's."""

    def __init__(self, folder: str, event_class: Any) -> None:
        from tensorboardX.record_writer import masked_crc32c

        self._crc = masked_crc32c
        name = f"events.out.tfevents.{int(time.time())}.{hostname()}"
        self._file = open(os.path.join(folder, name), "ab")  # noqa: SIM115
        self.write(event_class(wall_time=time.time(), file_version="brain.Event:2"))

    def write(self, event: Any) -> None:
        self.write_bytes(event.SerializeToString())

    def write_bytes(self, data: bytes) -> None:
        """Write one serialized ``Event``."""
        header = _LENGTH.pack(len(data))
        crc = self._crc
        self._file.write(b"".join((header, _CRC.pack(crc(header)), data, _CRC.pack(crc(data)))))

    def flush(self) -> None:
        self._file.flush()

    def sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


class TBXLoggerCallback(LoggerCallback):
    """Writes each numeric metric as a scalar ``ray/tune/<metric>`` at step
    ``training_iteration`` (Ray's tag names, so existing dashboards work), and the trial's
    config as hyperparameters when it ends. One event per result holds all its scalars and is
    written synchronously (no writer thread and queue per scalar).

    As a callback in the driver, a trial's hyperparameters are written and its file closed
    when the driver next has time for it (after the next trial started, at the next flush, or
    at the end of the experiment), not while the next trial waits to start."""

    def __init__(self) -> None:
        if not tensorboardx_available():
            raise ImportError(
                "TBXLoggerCallback needs tensorboardX: pip install 'caliper[tensorboard]'"
            )
        self._writers: dict[str, Any] = {}
        self._last: dict[str, dict] = {}
        self._flushed = time.monotonic()
        self._classes: tuple | None = None  # imported at the first trial, not before
        self._shapes: dict[tuple, tuple[bool, list[tuple[str, str]]]] = {}
        self._ending: list[tuple[Any, bool]] = []  # ended trials whose files are still open
        self._hparams: HParamsEvents | None = None

    def _import(self) -> tuple:
        if self._classes is None:
            import_tensorboardx()
            from tensorboardX.proto import api_pb2, event_pb2, plugin_hparams_pb2, summary_pb2

            self._classes = (EventFile, event_pb2.Event, summary_pb2.Summary)
            self._hparams = HParamsEvents((event_pb2, summary_pb2, api_pb2, plugin_hparams_pb2))
        return self._classes

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ending.append((trial, False))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ending.append((trial, True))

    def _end_trials(self) -> None:
        """Close the files of the trials whose end was deferred (see the class docstring)."""
        while self._ending:
            self.log_trial_end(*self._ending.pop(0))

    def log_trial_start(self, trial: Any) -> None:
        if self._ending:
            self._end_trials()
        if trial.trial_id not in self._writers:
            event_file, event_class, _ = self._import()
            self._writers[trial.trial_id] = event_file(trial.path, event_class)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        writer = self._writers.get(trial.trial_id)
        if writer is None:
            self.log_trial_start(trial)
            writer = self._writers[trial.trial_id]
        step = result.get("training_iteration", iteration)
        nested, scalars = self._scalars(result)
        flat = result
        if nested:
            flat = flatten_dict({k: v for k, v in result.items() if k != "config"})
            scalars = self._scalars(flat)[1]
        event = self._import()[1](wall_time=time.time(), step=int(step))
        add = event.summary.value.add  # built in place: the cheapest way with protobuf
        for key, tag in scalars:
            value = flat[key]
            kind = type(value)
            if kind is float or kind is int or is_number(value):
                add(tag=tag, simple_value=value)
        if event.summary.value:
            writer.write(event)
        self._last[trial.trial_id] = flat

    def _scalars(self, result: dict) -> tuple[bool, list[tuple[str, str]]]:
        """Whether results shaped like ``result`` nest dicts, and the ``(key, tag)`` pairs
        of their values to log (cached by the keys: a trial's results usually share them)."""
        shape = tuple(result)
        known = self._shapes.get(shape)
        if known is None:
            scalars = [(k, f"ray/tune/{k}") for k in result if k not in _SKIP]
            if len(self._shapes) > 256:
                self._shapes.clear()
            known = self._shapes[shape] = (has_nested(result), scalars)
        return known

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
        if params:
            tags = [
                f"ray/tune/{k}"
                for k, v in last.items()
                if k not in _SKIP and k != "config" and is_number(v)
            ]
            try:  # the hparams plugin's three summaries, in the trial's own event file
                self._import()
                for data in self._hparams.events(params, tags, time.time()):
                    writer.write_bytes(data)
            except Exception:  # hparams are a convenience; the scalars are written
                pass
        writer.close()

    def flush_buffers(self) -> None:
        """Hand what was written to the operating system (no sync to disk): a killed process
        then loses nothing it logged."""
        for writer in self._writers.values():
            writer.flush()

    def flush(self) -> None:
        if self._ending:
            self._end_trials()
        now = time.monotonic()  # the writer fsyncs: at most every few seconds
        if now - self._flushed >= _FLUSH_S:
            self._flushed = now
            for writer in self._writers.values():
                writer.sync()

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._end_trials()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
