"""TensorBoard's hyperparameter summaries for one trial, as serialized ``Event`` records.

The hparams plugin reads three summaries from each run's event file: the experiment (each
hyperparameter's name and type, each metric's tag), the session's start (the trial's values)
and its end (its status). They are the same messages ``tensorboardX.summary.hparams`` builds
(tensorboardX's own protos), made without a numpy conversion per value, and what trials
share (the experiment summary for a given set of names and types, the end summary) is
serialized once.

An ``Event`` is ``wall_time`` (field 1) and ``summary`` (field 5): its serialization is that
of ``Event(wall_time=t)`` followed by that of ``Event(summary=s)``, so the shared part is kept
as bytes and only the time is serialized per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_PLUGIN = "hparams"
_VERSION = 0
EXPERIMENT_TAG = "_hparams_/experiment"
SESSION_START_TAG = "_hparams_/session_start_info"
SESSION_END_TAG = "_hparams_/session_end_info"
_CACHE_LIMIT = 256  # distinct (hyperparameter types, metric tags) shapes kept


def _kind(value: Any) -> str:
    """The hparams plugin's data type of ``value`` (tensorboardX's rules: ``bool`` before
    numbers, since a bool is an int)."""
    if isinstance(value, str):
        return "DATA_TYPE_STRING"
    if isinstance(value, bool):
        return "DATA_TYPE_BOOL"
    if isinstance(value, int | float):
        return "DATA_TYPE_FLOAT64"
    if callable(value):
        return "DATA_TYPE_STRING"  # its name
    return "DATA_TYPE_UNSET"


class HParamsEvents:
    """Builds a trial's three hparams events (see the module docstring).

    Args:
        protos: a tuple of tensorboardX's proto modules ``(event_pb2, summary_pb2, api_pb2,
            plugin_hparams_pb2)``, imported by the caller (tensorboardX imports slowly).
    """

    def __init__(self, protos: tuple) -> None:
        event_pb2, summary_pb2, api_pb2, plugin_pb2 = protos
        self._event = event_pb2.Event
        self._summary = summary_pb2.Summary
        self._metadata = summary_pb2.SummaryMetadata
        self._api = api_pb2
        self._plugin = plugin_pb2
        self._experiments: dict[tuple, bytes] = {}
        self._end = self._shared(SESSION_END_TAG, self._end_data())

    def _shared(self, tag: str, content: Any) -> bytes:
        """``Event(summary=...)`` of one plugin summary, serialized."""
        metadata = self._metadata(
            plugin_data=self._metadata.PluginData(
                plugin_name=_PLUGIN, content=content.SerializeToString()
            )
        )
        summary = self._summary(value=[self._summary.Value(tag=tag, metadata=metadata)])
        return self._event(summary=summary).SerializeToString()

    def _end_data(self) -> Any:
        api = self._api
        end = self._plugin.SessionEndInfo(status=api.Status.Value("STATUS_SUCCESS"))
        return self._plugin.HParamsPluginData(session_end_info=end, version=_VERSION)

    def _experiment(self, kinds: tuple[tuple[str, str], ...], tags: tuple[str, ...]) -> bytes:
        key = (kinds, tags)
        known = self._experiments.get(key)
        if known is None:
            api = self._api
            experiment = api.Experiment(
                hparam_infos=[
                    api.HParamInfo(name=name, type=api.DataType.Value(kind)) for name, kind in kinds
                ],
                metric_infos=[api.MetricInfo(name=api.MetricName(tag=tag)) for tag in tags],
            )
            data = self._plugin.HParamsPluginData(experiment=experiment, version=_VERSION)
            if len(self._experiments) >= _CACHE_LIMIT:
                self._experiments.clear()
            known = self._experiments[key] = self._shared(EXPERIMENT_TAG, data)
        return known

    def events(
        self, params: Mapping[str, Any], metric_tags: Iterable[str], wall_time: float
    ) -> list[bytes]:
        """The experiment, session start and session end events of a trial with these
        hyperparameter values (``None`` values are left out, as tensorboardX does) and
        metric tags, each a serialized ``Event`` at ``wall_time``."""
        start = self._plugin.SessionStartInfo()
        values = start.hparams
        kinds = []
        for name, value in params.items():
            if value is None:
                continue
            kind = _kind(value)
            kinds.append((name, kind))
            if kind == "DATA_TYPE_STRING":
                values[name].string_value = (
                    value if isinstance(value, str) else getattr(value, "__name__", str(value))
                )
            elif kind == "DATA_TYPE_BOOL":
                values[name].bool_value = value
            elif kind == "DATA_TYPE_FLOAT64":
                values[name].number_value = float(value)
        data = self._plugin.HParamsPluginData(session_start_info=start, version=_VERSION)
        time = self._event(wall_time=wall_time).SerializeToString()
        return [
            time + self._experiment(tuple(kinds), tuple(metric_tags)),
            time + self._shared(SESSION_START_TAG, data),
            time + self._end,
        ]
