"""What the progress display of an experiment shows, as plain data computed by pure functions
over trials: the progress table (:func:`progress_rows`), the errored trials (:func:`error_rows`),
the best trial, the per-trial event lines and the end-of-experiment summary.

The reporters in :mod:`caliper.tune.progress` and :mod:`caliper.tune.progress_html` only render
what these return; tests call them directly.
"""

from __future__ import annotations

import enum
import math
import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from caliper.tune.trial import AUTO_FIELDS, Trial, TrialStatus, is_number

# Fields the runtime (or Ray) adds to results: never inferred as user metrics.
AUTO_RESULT_KEYS = AUTO_FIELDS | {
    "timesteps_since_restore",
    "should_checkpoint",
    "checkpoint_dir_name",
    "experiment_id",
    "warmup_time",
}
ITERATION_COLUMNS = (("training_iteration", "iter"), ("time_total_s", "total time (s)"))
STATUS_ORDER = (
    TrialStatus.RUNNING,
    TrialStatus.PAUSED,
    TrialStatus.PENDING,
    TrialStatus.TERMINATED,
    TrialStatus.ERROR,
)
Table = tuple[list[str], list[str], list[list[str]], list[str]]  # header, columns, rows, footer


class TrialEvent(str, enum.Enum):
    """A per-trial event that gets a line of its own at verbose >= :attr:`level`."""

    START = "start"
    RESULT = "result"
    COMPLETE = "complete"
    ERROR = "error"

    @property
    def level(self) -> int:
        return 2 if self in (TrialEvent.COMPLETE, TrialEvent.ERROR) else 3


def format_value(value: Any, max_length: int = 20) -> str:
    """One table cell: floats with 5 significant digits, ``None`` empty, long text cut to
    ``max_length`` characters ending in ``...``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = str(value)
    elif isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = f"{float(value):.5g}"
    else:
        text = str(value).replace("\n", " ")
    if len(text) > max_length:
        text = text[: max_length - 3] + "..." if max_length > 3 else text[:max_length]
    return text


def format_duration(seconds: float) -> str:
    """``12s``, ``1min 23s``, ``2hr 0min 5s``."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}min {secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}hr {minutes}min {secs}s"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def lookup(data: Mapping, key: str) -> Any:
    """``data[key]``, or the nested value for ``"a/b"``; ``None`` when absent."""
    if key in data:
        return data[key]
    node: Any = data
    for part in key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def flatten(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """Leaf values of a nested config under ``"a/b"`` keys."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_mode(mode: str | None) -> str | None:
    if mode not in (None, "min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or None, got {mode!r}")
    return mode


def as_columns(columns: Mapping[str, str] | Sequence[str], name: str) -> dict[str, str]:
    """``["a", "b"]`` or ``{"a": "A"}`` as ``{key: display name}``."""
    if isinstance(columns, Mapping):
        items = list(columns.items())
    elif isinstance(columns, Sequence) and not isinstance(columns, str):
        items = [(key, key) for key in columns]
    else:
        items = None
    if items is None or not all(isinstance(k, str) and isinstance(v, str) for k, v in items):
        raise TypeError(
            f"{name} must be a list of keys or a dict {{key: display name}}, e.g. "
            f"['loss'] or {{'loss': 'Loss'}}, got {columns!r}"
        )
    return dict(items)


def default_parameter_columns(trials: Sequence[Trial], limit: int) -> dict[str, str]:
    """The first ``limit`` flattened config keys whose values differ between trials (all keys
    when there is a single trial)."""
    flat = [flatten(trial.config) for trial in trials]
    keys = list(dict.fromkeys(key for config in flat for key in config))
    if len(flat) > 1:
        keys = [k for k in keys if len({repr(c[k]) if k in c else None for c in flat}) > 1]
    return {key: key for key in keys[:limit]}


def default_metric_columns(trials: Sequence[Trial], metric: str | None, limit: int) -> dict:
    """``metric`` (or else the first ``limit`` numeric user keys of the last results), then
    ``training_iteration`` and ``time_total_s``."""
    if metric is not None:
        keys = [metric]
    else:
        found = dict.fromkeys(
            key
            for trial in trials
            for key, value in trial.last_result.items()
            if key not in AUTO_RESULT_KEYS and is_number(value)
        )
        keys = list(found)[:limit]
    columns = {key: key for key in keys}
    for key, name in ITERATION_COLUMNS:
        columns.setdefault(key, name)
    return columns


def best_trial(trials: Iterable[Trial], metric: str | None, mode: str | None) -> Trial | None:
    """The trial whose last result has the best ``metric`` (first one on ties); ``None`` when
    metric or mode is unknown or no trial reported a number for it (NaN does not count)."""
    check_mode(mode)
    if metric is None or mode is None:
        return None
    best, best_value = None, math.nan
    for trial in trials:
        value = lookup(trial.last_result, metric)
        if not is_number(value) or math.isnan(value):
            continue
        if best is None or (value < best_value if mode == "min" else value > best_value):
            best, best_value = trial, value
    return best


def status_line(trials: Sequence[Trial], total_samples: float | None = None) -> str:
    """``Trial status: 3 RUNNING | 5 TERMINATED | 1 ERROR`` (statuses in lifecycle order)."""
    counts = {status: 0 for status in TrialStatus}
    for trial in trials:
        counts[trial.status] += 1
    parts = [f"{count} {status.value}" for status, count in counts.items() if count]
    line = "Trial status: " + (" | ".join(parts) if parts else "no trials yet")
    if total_samples is not None and math.isfinite(total_samples) and total_samples > 0:
        line += f" ({len(trials)}/{int(total_samples)} trials)"
    return line


def _ordered(trials: Sequence[Trial], metric, mode, sort_by_metric: bool) -> list[list[Trial]]:
    groups = [[t for t in trials if t.status is status] for status in STATUS_ORDER]
    if sort_by_metric and metric is not None and mode is not None:
        sign = 1.0 if mode == "min" else -1.0

        def rank(trial: Trial) -> tuple[bool, float]:
            value = lookup(trial.last_result, metric)
            ok = is_number(value) and not math.isnan(value)
            return (not ok, sign * value if ok else 0.0)

        index = STATUS_ORDER.index(TrialStatus.TERMINATED)
        groups[index] = sorted(groups[index], key=rank)
    return groups


def _fair_take(groups: list[list[Trial]], max_rows: int | None) -> list[int]:
    """How many trials of each group to show: round robin over the groups, so each status gets
    rows however many trials the others have."""
    sizes = [len(group) for group in groups]
    if max_rows is None or sum(sizes) <= max_rows:
        return sizes
    take = [0] * len(groups)
    budget = max_rows
    while budget > 0:
        for i, size in enumerate(sizes):
            if budget and take[i] < size:
                take[i] += 1
                budget -= 1
    return take


def progress_rows(
    trials: Iterable[Trial],
    metric: str | None = None,
    mode: str | None = None,
    metric_columns: Mapping[str, str] | Sequence[str] | None = None,
    parameter_columns: Mapping[str, str] | Sequence[str] | None = None,
    max_rows: int | None = None,
    *,
    infer_limit: int = 3,
    max_column_length: int = 20,
    sort_by_metric: bool = False,
    total_samples: float | None = None,
    elapsed_s: float | None = None,
    current_time: str | None = None,
    sys_info: Sequence[str] = (),
) -> Table:
    """The progress table as plain data (what both renderers draw).

    Args:
        trials: all trials of the experiment.
        metric: the experiment's metric (shown, and used for the best trial with ``mode``).
        mode: ``"min"``, ``"max"`` or None.
        metric_columns: result keys to show (list, or ``{key: display name}``); None: see
            :func:`default_metric_columns`. Columns no trial has a value for are left out.
        parameter_columns: config keys (``"a/b"`` for nested ones) to show; None: see
            :func:`default_parameter_columns`.
        max_rows: at most this many trial rows (None: all), shared fairly between statuses.
        infer_limit: how many keys the defaults take.
        max_column_length: longer cell values are cut.
        sort_by_metric: terminated trials best first.
        total_samples: the number of trials the experiment will run, if known.
        elapsed_s: the running time to show; ``current_time``: the wall time to show with it.
        sys_info: extra header lines.

    Returns:
        ``(header_lines, columns, rows, footer_lines)``: rows are lists of strings, RUNNING
        trials first; the footer says how many trials were not shown.
    """
    trials = list(trials)
    check_mode(mode)
    if metric_columns is None:
        metric_cols = default_metric_columns(trials, metric, infer_limit)
    else:
        metric_cols = as_columns(metric_columns, "metric_columns")
    if parameter_columns is None:
        param_cols = default_parameter_columns(trials, infer_limit)
    else:
        param_cols = as_columns(parameter_columns, "parameter_columns")
    metric_cols = {
        k: v
        for k, v in metric_cols.items()
        if any(lookup(t.last_result, k) is not None for t in trials)
    }
    param_cols = {
        k: v for k, v in param_cols.items() if any(lookup(t.config, k) is not None for t in trials)
    }

    header = [status_line(trials, total_samples)]
    best = best_trial(trials, metric, mode)
    if best is not None:
        value = format_value(lookup(best.last_result, metric), 40)
        params = {key: lookup(best.config, key) for key in param_cols} if param_cols else None
        header.append(
            f"Current best trial: {best} with {metric}={value} and params={params or best.config}"
        )
    if elapsed_s is not None:
        running = f"Total running time: {format_duration(elapsed_s)}"
        header.append(f"Current time: {current_time}. {running}" if current_time else running)
    header.extend(sys_info)

    groups = _ordered(trials, metric, mode, sort_by_metric)
    take = _fair_take(groups, max_rows)
    rows = [
        [
            str(trial),
            trial.status.value,
            *(format_value(lookup(trial.config, k), max_column_length) for k in param_cols),
            *(format_value(lookup(trial.last_result, k), max_column_length) for k in metric_cols),
        ]
        for group, count in zip(groups, take, strict=True)
        for trial in group[:count]
    ]
    hidden = [
        (len(g) - n, s) for g, n, s in zip(groups, take, STATUS_ORDER, strict=True) if len(g) > n
    ]
    footer = []
    if hidden:
        detail = ", ".join(f"{count} {status.value}" for count, status in hidden)
        more = _plural(sum(count for count, _ in hidden), "more trial")
        footer.append(f"... {more} not shown ({detail})")
    columns = ["Trial name", "status", *param_cols.values(), *metric_cols.values()]
    return header, columns, rows, footer


def error_rows(trials: Iterable[Trial], max_rows: int | None = None) -> Table:
    """The table of trials that failed (ERROR, or failed and retried): name, number of
    failures, error file; the same shape as :func:`progress_rows` (all empty: no failures)."""
    failed = [t for t in trials if t.status is TrialStatus.ERROR or t.num_failures > 0]
    if not failed:
        return [], [], [], []
    shown = failed if max_rows is None else failed[:max_rows]
    rows = [[str(t), str(t.num_failures), t.error_file or ""] for t in shown]
    footer = []
    if len(shown) < len(failed):
        footer.append(f"... {_plural(len(failed) - len(shown), 'more errored trial')} not shown")
    header = [f"Number of errored trials: {len(failed)}"]
    return header, ["Trial name", "# failures", "error file"], rows, footer


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain-text lines of a table; columns of numbers are right-aligned."""

    def numeric(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return cell == ""
        return True

    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(numeric(r[i]) for r in rows) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if r else cell.ljust(width)
            for cell, width, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return [line(columns), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def render_text(progress: Table, errors: Table) -> str:
    """The plain-text report: header, trial table, footer, then the errored trials."""
    header, columns, rows, footer = progress
    lines = list(header)
    if columns:
        lines += ["", *format_table(columns, rows)]
    lines += footer
    error_header, error_columns, failed, error_footer = errors
    if failed:
        lines += ["", *error_header, *format_table(error_columns, failed), *error_footer]
    return "\n".join(lines)


def _metrics_text(result: Mapping, metric: str | None, limit: int = 3) -> str:
    value = lookup(result, metric) if metric is not None else None
    if value is not None:
        pairs = [(metric, value)]
    else:
        pairs = [(k, v) for k, v in result.items() if k not in AUTO_RESULT_KEYS and is_number(v)]
    return ", ".join(f"{key}={format_value(value, 40)}" for key, value in pairs[:limit])


def trial_event_line(
    trial: Trial,
    event: TrialEvent | str,
    result: Mapping | None = None,
    *,
    metric: str | None = None,
) -> str:
    """One line about one trial, e.g. ``Trial X reported loss=0.1234 with iteration=3``.

    Args:
        trial: the trial.
        event: a :class:`TrialEvent` or its value (``"start"``, ``"result"``, ``"complete"``,
            ``"error"``).
        result: the result the event is about (default: the trial's last result).
        metric: the value to show (default: the first numeric values the trial reported).
    """
    event = TrialEvent(event)
    if event is TrialEvent.START:
        return f"Trial {trial} started with config={trial.config}"
    result = trial.last_result if result is None else result
    iteration = result.get("training_iteration", trial.num_results)
    metrics = _metrics_text(result, metric)
    if event is TrialEvent.RESULT:
        if not metrics:
            return f"Trial {trial} reported iteration={iteration}"
        return f"Trial {trial} reported {metrics} with iteration={iteration}"
    took = (
        _plural(iteration, "iteration") if isinstance(iteration, int) else f"iteration {iteration}"
    )
    total = result.get("time_total_s")
    if is_number(total):
        took += f" ({format_duration(total)})"
    if event is TrialEvent.COMPLETE:
        return f"Trial {trial} completed after {took}" + (
            f". Last result: {metrics}" if metrics else ""
        )
    lines = [line.strip() for line in (trial.error_msg or "").splitlines() if line.strip()]
    cause = f": {format_value(lines[-1], 120)}" if lines else ""
    where = f". Error file: {trial.error_file}" if trial.error_file else ""
    return f"Trial {trial} errored after {took} (failure {trial.num_failures}){cause}{where}"


def final_summary(
    trials: Iterable[Trial],
    metric: str | None,
    mode: str | None,
    experiment_path: str | os.PathLike,
    elapsed_s: float,
) -> str:
    """The end-of-experiment text: counts per status, the best trial, where the results are
    and how to load, inspect and resume them."""
    trials = list(trials)
    path = os.fspath(experiment_path)
    lines = [
        f"Experiment finished after {format_duration(elapsed_s)}: {_plural(len(trials), 'trial')}.",
        status_line(trials),
    ]
    best = best_trial(trials, metric, mode)
    if best is not None:
        value = format_value(lookup(best.last_result, metric), 40)
        lines += [f"Best trial: {best} with {metric}={value} ({mode})", f"  config: {best.config}"]
    elif metric is None or mode is None:
        lines.append("No best trial: pass metric= and mode= to tune.TuneConfig to rank trials.")
    else:
        lines.append(f"No best trial: no trial reported a number for {metric!r}.")
    failed = [t for t in trials if t.status is TrialStatus.ERROR]
    if failed:
        lines.append(f"{_plural(len(failed), 'trial')} errored; tracebacks in:")
        lines += [f"  {t}: {t.error_file or '(no error file)'}" for t in failed[:5]]
        if len(failed) > 5:
            lines.append(f"  ... {len(failed) - 5} more")
    lines += [
        f"Results are in {path}",
        f"  To load results: caliper.tune.ResultGrid.from_path({path!r})",
    ]
    return "\n".join(lines)
