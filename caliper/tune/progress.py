"""The progress display of an experiment, with Ray Tune's reporter names and arguments.

What is shown is computed by pure functions over trials in :mod:`caliper.tune.progress_table`
(:func:`progress_rows`, :func:`error_rows`, :func:`best_trial`, :func:`trial_event_line`,
:func:`final_summary`, re-exported here); the reporters only render it: a table updated in
place (``rich``) when the output is a terminal, plain text lines (no ANSI codes) when it is a
log or a pipe, and one HTML table updated in place in Jupyter (:class:`JupyterNotebookReporter`).

Call order (the controller's side of the contract): ``setup(...)`` once before the first trial,
then after each loop step ``report(trials, done=False)`` whenever ``should_report(trials)`` says
so, and ``report(trials, done=True)`` once at the end (also on Ctrl-C: that is what restores the
terminal). ``report_trial_event(trial, event, result)`` prints the per-trial lines of verbose
levels 2 and 3. ``rich`` and ``IPython`` are imported only when something is rendered with them.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from caliper.tune.progress_html import in_notebook, render_html
from caliper.tune.progress_table import (
    Table,
    TrialEvent,
    as_columns,
    best_trial,
    check_mode,
    default_metric_columns,
    default_parameter_columns,
    error_rows,
    final_summary,
    is_number,
    progress_rows,
    render_text,
    trial_event_line,
)
from caliper.tune.search_properties import merge_metric_mode
from caliper.tune.trial import Trial

__all__ = [
    "CLIReporter",
    "JupyterNotebookReporter",
    "ProgressReporter",
    "TrialEvent",
    "TuneReporterBase",
    "best_trial",
    "default_reporter",
    "error_rows",
    "final_summary",
    "progress_rows",
    "trial_event_line",
]


class ProgressReporter:
    """Ray Tune's reporter interface; subclass it for a custom display.

    ``setup`` is called once before anything else (``start_time`` is on the reporter's clock;
    extra keyword arguments are for forward compatibility), then ``should_report`` after each
    step of the experiment and ``report`` whenever it returned True; ``sys_info`` are extra
    lines (resource usage) to show.
    """

    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Set what is only known when the experiment starts (default: nothing)."""

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        """Whether to call :meth:`report` now."""
        raise NotImplementedError

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        """Show the progress of ``trials`` (``done``: the experiment has ended)."""
        raise NotImplementedError


def _check_int(name: str, value: Any, low: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def check_verbose(verbose: Any) -> int:
    if not isinstance(verbose, int) or isinstance(verbose, bool) or not 0 <= verbose <= 3:
        raise ValueError(
            f"verbose must be 0 (silent), 1 (status), 2 (trial events) or 3 (results), "
            f"got {verbose!r}"
        )
    return int(verbose)


class TuneReporterBase(ProgressReporter):
    """What :class:`CLIReporter` and :class:`JupyterNotebookReporter` share (Ray's arguments).

    Args:
        metric_columns: result keys to show, a list or ``{key: display name}``; default: the
            experiment's metric (or the first ``infer_limit`` numeric keys of the results),
            ``training_iteration`` and ``time_total_s``.
        parameter_columns: config keys to show (``"a/b"`` for nested ones), a list or a dict;
            default: the first ``infer_limit`` keys whose values differ between trials.
        total_samples: how many trials the experiment runs (the controller sets it in setup).
        max_progress_rows: at most this many trial rows while running (all once done).
        max_error_rows: at most this many rows of errored trials while running.
        max_column_length: longer cell values are cut.
        max_report_frequency: at most one report per this many seconds.
        infer_limit: how many keys the default columns take.
        print_intermediate_tables: False: only the header lines until the end; None/True: the
            table at every report.
        metric: the metric for the best trial (default: the experiment's).
        mode: ``"min"`` or ``"max"`` (default: the experiment's).
        sort_by_metric: terminated trials best first.
        stream: where to write (default: ``sys.stdout`` at the time of writing).
        clock: seconds as a float, for the running time and ``max_report_frequency``.
        verbose: 0 silent, 1 the table, 2 also a line per finished or errored trial, 3 also a
            line per result (the controller may set it in ``setup(verbose=...)``).
    """

    def __init__(
        self,
        metric_columns: Mapping[str, str] | Sequence[str] | None = None,
        parameter_columns: Mapping[str, str] | Sequence[str] | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        verbose: int = 1,
    ) -> None:
        self._infer_metrics = metric_columns is None
        self._metric_columns = (
            {} if metric_columns is None else as_columns(metric_columns, "metric_columns")
        )
        self._infer_params = parameter_columns is None
        self._parameter_columns = (
            {} if parameter_columns is None else as_columns(parameter_columns, "parameter_columns")
        )
        self.max_progress_rows = _check_int("max_progress_rows", max_progress_rows, 1)
        self.max_error_rows = _check_int("max_error_rows", max_error_rows, 1)
        self.max_column_length = _check_int("max_column_length", max_column_length, 4)
        self.infer_limit = _check_int("infer_limit", infer_limit, 0)
        if not is_number(max_report_frequency) or not max_report_frequency >= 0:
            raise ValueError(
                f"max_report_frequency must be seconds >= 0, got {max_report_frequency!r}"
            )
        self.max_report_frequency = float(max_report_frequency)
        if print_intermediate_tables not in (None, True, False):
            raise TypeError(
                "print_intermediate_tables must be a bool or None, "
                f"got {print_intermediate_tables!r}"
            )
        self.print_intermediate_tables = print_intermediate_tables
        if not isinstance(sort_by_metric, bool):
            raise TypeError(f"sort_by_metric must be a bool, got {sort_by_metric!r}")
        self.sort_by_metric = sort_by_metric
        if metric is not None and not isinstance(metric, str):
            raise TypeError(f"metric must be a result key (str), got {metric!r}")
        self._metric, self._mode = metric, check_mode(mode)
        if not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        self._clock = clock
        self._stream = stream
        self.verbose = check_verbose(verbose)
        self._total_samples: float | None = None
        self.set_total_samples(total_samples)
        self._start: float | None = None
        self._last_report = -math.inf

    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        """See :meth:`ProgressReporter.setup`; ``verbose=`` sets :attr:`verbose`;
        ``parameter_keys=`` (the searched keys, ``"a/b"`` for nested ones) fixes the parameter
        columns for the whole run unless they were given; other keyword arguments are ignored
        (Ray's forward-compatibility contract)."""
        self._start = self._clock() if start_time is None else start_time
        keys = kwargs.get("parameter_keys")
        if keys and self._infer_params:
            self._parameter_columns = {key: key for key in keys}
            self._infer_params = False
        if total_samples is not None:
            self.set_total_samples(total_samples)
        self.set_search_properties(metric, mode)
        if kwargs.get("verbose") is not None:
            self.verbose = check_verbose(kwargs["verbose"])

    def set_search_properties(self, metric: str | None, mode: str | None) -> bool:
        """Take the experiment's metric and mode where the reporter has none of its own."""
        self._metric, self._mode = merge_metric_mode(
            "reporter", (self._metric, self._mode), metric, mode
        )
        return True

    def set_total_samples(self, total_samples: float | None) -> None:
        if total_samples is not None and (not is_number(total_samples) or total_samples < 0):
            raise ValueError(f"total_samples must be a number >= 0, got {total_samples!r}")
        self._total_samples = total_samples

    def add_metric_column(self, metric: str, representation: str | None = None) -> None:
        """Show result key ``metric`` as ``representation`` (default: the key)."""
        self._add_column(self._metric_columns, metric, representation)

    def add_parameter_column(self, parameter: str, representation: str | None = None) -> None:
        """Show config key ``parameter`` (``"a/b"`` when nested) as ``representation``."""
        self._add_column(self._parameter_columns, parameter, representation)

    @staticmethod
    def _add_column(columns: dict[str, str], key: str, representation: str | None) -> None:
        if not isinstance(key, str) or not isinstance(representation, str | None):
            raise TypeError(f"columns are named by strings, got {key!r} -> {representation!r}")
        if key in columns:
            raise ValueError(f"column {key!r} already exists")
        columns[key] = key if representation is None else representation

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        """True at the end and at most once per ``max_report_frequency`` seconds."""
        if self.verbose < 1:
            return False
        now = self._clock()
        if done or now - self._last_report >= self.max_report_frequency:
            self._last_report = now
            return True
        return False

    def report_trial_event(self, trial: Trial, event: TrialEvent | str, result=None) -> None:
        """Print :func:`trial_event_line` if :attr:`verbose` asks for such events."""
        if self.verbose >= TrialEvent(event).level:
            self._print_line(trial_event_line(trial, event, result, metric=self._metric))

    def _print_line(self, line: str) -> None:
        stream = self._out()
        stream.write(line + "\n")
        stream.flush()

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def progress_data(self, trials: list[Trial], done: bool, sys_info=()) -> tuple[Table, Table]:
        """The ``(progress, errors)`` tables of one report (see :func:`progress_rows`)."""
        now = self._clock()
        if self._start is None:
            self._start = now
        metric_cols = self._metric_columns
        if self._infer_metrics:
            metric_cols = {
                **default_metric_columns(trials, self._metric, self.infer_limit),
                **metric_cols,
            }
        param_cols = self._parameter_columns
        if self._infer_params:
            param_cols = {**default_parameter_columns(trials, self.infer_limit), **param_cols}
        header, columns, rows, footer = progress_rows(
            trials,
            self._metric,
            self._mode,
            metric_cols,
            param_cols,
            None if done else self.max_progress_rows,
            infer_limit=self.infer_limit,
            max_column_length=self.max_column_length,
            sort_by_metric=self.sort_by_metric,
            total_samples=self._total_samples,
            elapsed_s=now - self._start,
            current_time=time.strftime("%Y-%m-%d %H:%M:%S"),
            sys_info=[str(line) for line in sys_info],
        )
        if not done and self.print_intermediate_tables is False:
            columns, rows, footer = [], [], []
        return (header, columns, rows, footer), error_rows(
            trials, None if done else self.max_error_rows
        )


class CLIReporter(TuneReporterBase):
    """The progress in a terminal (a table updated in place) or a log (plain text lines).

    Whether ``stream.isatty()`` decides; the live table needs ``rich`` and falls back to plain
    text without it. Arguments: see :class:`TuneReporterBase`.
    """

    _live: Any = None  # a started rich.live.Live while the table is live

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        if self.verbose < 1:
            return
        progress, errors = self.progress_data(list(trials), done, sys_info)
        # While live, sys.stdout may be rich's proxy: keep drawing on the live table's file.
        stream = self._live.console.file if self._live is not None else self._out()
        isatty = getattr(stream, "isatty", None)
        if isatty is not None and isatty() and self._report_live(stream, progress, errors, done):
            return
        stream.write(render_text(progress, errors) + "\n\n")
        stream.flush()

    def _report_live(self, stream: TextIO, progress: Table, errors: Table, done: bool) -> bool:
        try:
            from rich.console import Console
            from rich.live import Live
        except ImportError:
            return False
        renderable = rich_renderable(progress, errors)
        if done:
            self.close()  # erases the live table: the final one is printed for good
            Console(file=stream, force_terminal=True).print(renderable)
            return True
        if self._live is None:
            console = Console(file=stream, force_terminal=True)
            redirect = stream is sys.stdout
            self._live = Live(
                renderable,
                console=console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=redirect,
                redirect_stderr=redirect,
            )
            self._live.start(refresh=True)
        else:
            self._live.update(renderable, refresh=True)
        return True

    def _print_line(self, line: str) -> None:
        if self._live is None:
            super()._print_line(line)
        else:
            from rich.text import Text

            self._live.console.print(Text(line))  # above the live table

    def close(self) -> None:
        """Stop the live table (and show the cursor again); ``report(done=True)`` does it."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()


def rich_renderable(progress: Table, errors: Table) -> Any:
    """The report as a ``rich`` renderable (cells as plain text, never as markup)."""
    from rich import box
    from rich.console import Group
    from rich.table import Table as RichTable
    from rich.text import Text

    styles = {"RUNNING": "green", "PAUSED": "yellow", "PENDING": "dim", "ERROR": "red"}

    def table(columns: list[str], rows: list[list[str]]) -> RichTable:
        out = RichTable(box=box.SIMPLE_HEAD, header_style="bold")
        for column in columns:
            out.add_column(column, no_wrap=True)
        for row in rows:
            out.add_row(
                Text(row[0]), Text(row[1], style=styles.get(row[1], "")), *map(Text, row[2:])
            )
        return out

    def line(text: str, style: str = "") -> Text:  # one screen line each, cut when too wide
        return Text(text, style=style, no_wrap=True, overflow="ellipsis")

    header, columns, rows, footer = progress
    parts: list[Any] = [line(text) for text in header]
    if columns:
        parts.append(table(columns, rows))
    parts += [line(text, "dim") for text in footer]
    error_header, error_columns, failed, error_footer = errors
    if failed:
        parts += [line(text, "bold red") for text in error_header]
        parts += [table(error_columns, failed), *(line(text) for text in error_footer)]
    return Group(*parts)


class JupyterNotebookReporter(TuneReporterBase):
    """The progress in a Jupyter notebook: one HTML table, updated in place.

    Args:
        overwrite: update the one table in place (False: a new table per report).
        *args, **kwargs: see :class:`TuneReporterBase`; ``stream`` takes the event lines.
    """

    def __init__(
        self,
        overwrite: bool = True,
        metric_columns: Mapping[str, str] | Sequence[str] | None = None,
        parameter_columns: Mapping[str, str] | Sequence[str] | None = None,
        total_samples: int | None = None,
        max_progress_rows: int = 20,
        max_error_rows: int = 20,
        max_column_length: int = 20,
        max_report_frequency: float = 5,
        infer_limit: int = 3,
        print_intermediate_tables: bool | None = None,
        metric: str | None = None,
        mode: str | None = None,
        sort_by_metric: bool = False,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        verbose: int = 1,
    ) -> None:
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be a bool, got {overwrite!r}")
        super().__init__(
            metric_columns,
            parameter_columns,
            total_samples,
            max_progress_rows,
            max_error_rows,
            max_column_length,
            max_report_frequency,
            infer_limit,
            print_intermediate_tables,
            metric,
            mode,
            sort_by_metric,
            stream=stream,
            clock=clock,
            verbose=verbose,
        )
        self.overwrite = overwrite
        self._handle: Any = None  # the DisplayHandle of the table

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        if self.verbose < 1:
            return
        try:
            from IPython.display import HTML, display
        except ImportError as error:
            raise ImportError(
                "JupyterNotebookReporter needs IPython (pip install ipython); "
                "use CLIReporter outside notebooks"
            ) from error
        html = HTML(render_html(*self.progress_data(list(trials), done, sys_info)))
        if self.overwrite and self._handle is not None:
            self._handle.update(html)
        else:
            self._handle = display(html, display_id=True)


def default_reporter(verbose: int, stream: TextIO | None = None) -> TuneReporterBase:
    """The reporter for where this runs: :class:`JupyterNotebookReporter` in a notebook,
    else :class:`CLIReporter` (metric and mode come with ``setup``)."""
    verbose = check_verbose(verbose)
    if in_notebook():
        return JupyterNotebookReporter(stream=stream, verbose=verbose)
    return CLIReporter(stream=stream, verbose=verbose)
