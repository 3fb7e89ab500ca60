"""``tune restore``, ``tune ls`` and ``tune best``: experiments on disk.

``ls`` and ``best`` read only the JSON files of an experiment (never a pickle), as
``ResultGrid.from_path`` does.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections import Counter
from typing import Any

from caliper.cli.document import ConfigError

STATE_FILE = "experiment_state.json"
KEY_METRICS = 3


def _experiment_dir(path: str) -> str:
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise ConfigError("no such directory", path)
    if not _is_experiment(path):
        raise ConfigError(
            f"not an experiment directory (no {STATE_FILE}); expected <storage_path>/<name>", path
        )
    return path


def _is_experiment(path: str) -> bool:
    state = os.path.join(path, STATE_FILE)
    return os.path.isfile(state) or os.path.isfile(state + ".prev")


def _local(path: str | None, *also: str) -> str | None:
    """A local copy of what a command reads of a remote experiment or storage (a URI such as
    s3://bucket/prefix); any other path as it is."""
    from caliper.tune.storage import is_uri

    if not is_uri(path):
        return path
    from caliper.tune.remote_storage import mirror_root

    try:
        return mirror_root(path, also=also)
    except (OSError, ValueError, ImportError) as exc:
        raise ConfigError(" ".join(str(exc).split()), path) from None


def _load(path: str) -> tuple[list, str, str | None, str | None]:
    from caliper.tune.result_grid import load_experiment

    try:
        return load_experiment(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(str(exc).replace("\n", " "), path) from None


# -- restore ---------------------------------------------------------------------------------


def restore(args: Any) -> int:
    from caliper import tune
    from caliper.cli.run import connect, report_results
    from caliper.cli.trainable import SPEC_FILE, import_object, load_spec, with_resources
    from caliper.tune.storage import is_uri

    path = _experiment_dir(_local(args.path, SPEC_FILE))
    saved = load_spec(path)
    if args.trainable:
        trainable = import_object(args.trainable, path=("--trainable",))
        resources = saved.get("resources_per_trial") if saved else None
    elif saved:
        trainable = import_object(
            saved["trainable"], path=("trainable",), base_dir=saved.get("base_dir")
        )
        resources = saved.get("resources_per_trial")
    else:
        raise ConfigError(
            "this experiment was not started by `tune run`, so it does not name its "
            "trainable: pass --trainable module:function (or path/to/file.py:function)",
            path,
        )
    connect(args)
    tuner = tune.Tuner.restore(
        args.path if is_uri(args.path) else path,  # a URI: restored (and uploaded) there
        trainable=with_resources(trainable, resources),
        resume_errored=args.resume_errored,
        restart_errored=args.restart_errored,
    )
    results = tuner.fit()
    _, _, metric, mode = _load(path)
    return report_results(
        results, tuner.experiment_path, metric, mode, None, tuner.storage.location
    )


# -- ls --------------------------------------------------------------------------------------


def _table(title: str, columns: list[str], rows: list[list[str]], out: Any) -> None:
    """A rich table in a terminal, aligned plain text otherwise."""
    if out.isatty():
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        needed = 2
        for i, column in enumerate(columns):
            cells = [row[i] for row in rows]
            numeric = all(_numeric(cell) for cell in cells)
            width = max(len(cell) for cell in [column, *cells])
            table.add_column(
                column,
                justify="right" if numeric else "left",
                overflow="fold",
                min_width=width,
                no_wrap=True,
            )
            needed += width + 3
        for row in rows:
            table.add_row(*row)
        console = Console(file=out)
        console.width = max(console.width, needed)  # wider than the terminal: it wraps lines
        console.print(table)
        return
    from caliper.tune.progress_table import format_table

    print(title, file=out)
    for line in format_table(columns, rows):
        print(line, file=out)


def _numeric(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return cell in ("", "-")
    return True


def _state(path: str) -> dict:
    from caliper.tune.experiment_state import decode
    from caliper.tune.storage import read_with_fallback

    state, _ = read_with_fallback(os.path.join(path, STATE_FILE), decode)
    return state


def _ls_storage(root: str, out: Any) -> int:
    rows = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not os.path.isdir(path) or not _is_experiment(path):
            continue
        try:
            state = _state(path)
        except ValueError:
            rows.append([name, "UNREADABLE", "", "", "", ""])
            continue
        counts = Counter(trial.get("status", "?") for trial in state["trials"])
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        metric = state.get("metric") or ""
        if metric and state.get("mode"):
            metric = f"{metric} ({state['mode']})"
        when = datetime.datetime.fromtimestamp(state.get("timestamp") or os.path.getmtime(path))
        rows.append(
            [
                name,
                state.get("status", "?"),
                str(len(state["trials"])),
                statuses,
                metric,
                when.strftime("%Y-%m-%d %H:%M:%S"),
            ]
        )
    if not rows:
        print(f"No experiments in {root}", file=out)
        return 0
    columns = ["experiment", "status", "trials", "trial status", "metric", "last update"]
    _table(f"Experiments in {root}", columns, rows, out)
    return 0


def _ls_experiment(path: str, out: Any) -> int:
    from caliper.tune.progress_table import (
        AUTO_RESULT_KEYS,
        default_parameter_columns,
        format_value,
        lookup,
    )
    from caliper.tune.trial import is_number

    trials, path, metric, _mode = _load(path)
    params = default_parameter_columns(trials, 8)
    found = dict.fromkeys(
        key
        for trial in trials
        for key, value in (trial.last_result or {}).items()
        if key not in AUTO_RESULT_KEYS and key != metric and is_number(value)
    )
    metrics = ([metric] if metric else []) + list(found)
    metrics = [*metrics[:KEY_METRICS], "time_total_s"]
    columns = ["trial", "status", "iter", *params, *metrics]
    rows = []
    for trial in trials:
        result = trial.last_result or {}
        iterations = result.get("training_iteration", trial.num_results)
        rows.append(
            [
                trial.name or trial.trial_id,
                trial.status.value,
                str(iterations),
                *(format_value(lookup(trial.config, key)) for key in params),
                *(format_value(result.get(key)) for key in metrics),
            ]
        )
    _table(f"Trials of {path}", columns, rows, out)
    return 0


def ls(args: Any, out: Any = None) -> int:
    from caliper.tune.storage import DEFAULT_STORAGE_PATH

    out = out or sys.stdout
    path = os.path.abspath(os.path.expanduser(_local(args.path) or DEFAULT_STORAGE_PATH))
    if _is_experiment(path):
        return _ls_experiment(path, out)
    if not os.path.isdir(path):
        if args.path is None:
            print(f"No experiments in {path} (the directory does not exist yet)", file=out)
            return 0
        raise ConfigError("no such directory", path)
    return _ls_storage(path, out)


# -- best ------------------------------------------------------------------------------------


def best(args: Any, out: Any = None) -> int:
    from caliper.tune.result_grid import ResultGrid
    from caliper.tune.storage import json_safe

    out = out or sys.stdout
    path = _experiment_dir(_local(args.path))
    trials, path, metric, mode = _load(path)
    metric, mode = args.metric or metric, args.mode or mode
    if not metric or not mode:
        missing = "--metric" if not metric else "--mode"
        raise ConfigError(
            f"the experiment has no default metric and mode: pass {missing} "
            "(e.g. --metric loss --mode min)",
            path,
        )
    if not trials:
        raise ConfigError("the experiment has no trials", path)
    grid = ResultGrid(trials, path, metric, mode)
    try:
        result = grid.get_best_result(metric, mode)
    except ValueError as exc:
        raise ConfigError(str(exc), path) from None
    trial = next(t for t in trials if t.path == result.path) if result.path else None
    data = json_safe(
        {
            "trial_id": trial.trial_id if trial else None,
            "metric": metric,
            "mode": mode,
            "value": result.metrics.get(metric),
            "config": result.config,
            "metrics": {k: v for k, v in result.metrics.items() if k != "config"},
            "path": result.path,
            "checkpoint": getattr(result.checkpoint, "path", None),
        }
    )
    if args.format == "yaml":
        import yaml

        print(yaml.safe_dump(data, sort_keys=False).rstrip(), file=out)
    else:
        print(json.dumps(data, indent=2), file=out)
    return 0
