"""The progress display: the table as data, the best trial, the report frequency on a virtual
clock, plain text for logs, a live rich table for terminals, one HTML table in Jupyter, the
per-trial lines and the end-of-experiment summary."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import types

import pytest

from caliper.tune.progress import (
    CLIReporter,
    JupyterNotebookReporter,
    ProgressReporter,
    TrialEvent,
    best_trial,
    default_reporter,
    error_rows,
    final_summary,
    progress_rows,
    trial_event_line,
)
from caliper.tune.progress_html import in_notebook, render_html
from caliper.tune.progress_table import format_duration, format_value
from caliper.tune.trainable_wrappers import PlacementGroupFactory
from caliper.tune.trial import Trial, TrialStatus

ANSI = re.compile(r"\x1b\[")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class TTY(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def make_trial(index, status=TrialStatus.PENDING, config=None, **result):
    trial = Trial(
        trial_id=f"{index:05d}",
        config=config if config is not None else {"lr": 10.0**-index, "epochs": 8},
        experiment_tag=str(index),
        resources=PlacementGroupFactory([{"CPU": 1}]),
    )
    # str(trial) is the trial's name (its directory name): set both fields
    trial.name = trial.dirname = f"train_fn_{index:05d}"
    trial.status = status
    if result:
        result.setdefault("training_iteration", 3)
        result.setdefault("time_total_s", 12.3456789)
        result.setdefault("pid", 1234)
        trial.record(result)
    return trial


@pytest.fixture
def trials():
    return [
        make_trial(0, TrialStatus.TERMINATED, loss=0.5, acc=0.7),
        make_trial(1, TrialStatus.RUNNING, loss=0.123456789, acc=0.9),
        make_trial(2, TrialStatus.PENDING),
        make_trial(3, TrialStatus.RUNNING, loss=0.25, acc=0.8),
        make_trial(4, TrialStatus.ERROR, loss=2.0, acc=0.1),
    ]


# -- the table as data ------------------------------------------------------------------------


def test_progress_rows_header_columns_and_rows(trials):
    header, columns, rows, footer = progress_rows(trials, "loss", "min", None, None, 20)
    assert header[0] == "Trial status: 1 PENDING | 2 RUNNING | 1 TERMINATED | 1 ERROR"
    assert (
        header[1] == "Current best trial: train_fn_00001 with loss=0.12346 and params={'lr': 0.1}"
    )
    # lr varies, epochs does not; the metric, then the iteration columns
    assert columns == ["Trial name", "status", "lr", "loss", "iter", "total time (s)"]
    assert [row[:2] for row in rows] == [
        ["train_fn_00001", "RUNNING"],
        ["train_fn_00003", "RUNNING"],
        ["train_fn_00002", "PENDING"],
        ["train_fn_00000", "TERMINATED"],
        ["train_fn_00004", "ERROR"],
    ]
    assert rows[0] == ["train_fn_00001", "RUNNING", "0.1", "0.12346", "3", "12.346"]
    assert rows[2] == ["train_fn_00002", "PENDING", "0.01", "", "", ""]  # no result yet
    assert footer == []


def test_progress_rows_infers_numeric_user_metrics_without_a_metric(trials):
    trials[0].record({"loss": 0.4, "acc": 0.7, "name": "x", "f1": 0.5, "extra": 1, "pid": 3})
    _, columns, _, _ = progress_rows(trials, None, None, None, None, None, infer_limit=3)
    # the first 3 numeric user keys (not "name", not auto-filled ones such as pid), then iter
    assert columns[3:] == ["loss", "acc", "f1", "iter", "total time (s)"]
    header, _, _, _ = progress_rows(trials, None, None, None, None, None)
    assert not any(line.startswith("Current best trial") for line in header)


def test_progress_rows_columns_given_as_list_or_dict_and_nested_keys():
    trials = [
        make_trial(0, TrialStatus.RUNNING, {"opt": {"lr": 0.1, "m": 0.9}}, loss=1.0),
        make_trial(1, TrialStatus.RUNNING, {"opt": {"lr": 0.2, "m": 0.9}}, loss=2.0),
    ]
    _, columns, rows, _ = progress_rows(
        trials, None, None, {"loss": "Loss", "missing": "M"}, ["opt/lr", "opt/m"], None
    )
    assert columns == ["Trial name", "status", "opt/lr", "opt/m", "Loss"]  # no value: no column
    assert rows[1][2:] == ["0.2", "0.9", "2"]
    _, columns, _, _ = progress_rows(trials, None, None, ["loss"], None, None)
    assert columns == ["Trial name", "status", "opt/lr", "loss"]  # the varying nested leaf


def test_progress_rows_caps_rows_fairly_and_says_what_is_hidden():
    trials = [make_trial(i, TrialStatus.TERMINATED, loss=float(i)) for i in range(30)]
    trials += [make_trial(100 + i, TrialStatus.RUNNING, loss=1.0) for i in range(3)]
    _, _, rows, footer = progress_rows(trials, "loss", "min", None, None, 10)
    assert len(rows) == 10
    assert [row[1] for row in rows] == ["RUNNING"] * 3 + ["TERMINATED"] * 7
    assert footer == ["... 23 more trials not shown (23 TERMINATED)"]


def test_progress_rows_sort_by_metric_and_cut_long_values():
    trials = [
        make_trial(i, TrialStatus.TERMINATED, {"tag": "x" * 40, "i": i}, loss=v)
        for i, v in enumerate([0.3, 0.1, 0.2])
    ]
    _, _, rows, _ = progress_rows(
        trials, "loss", "max", None, ["tag"], None, sort_by_metric=True, max_column_length=10
    )
    assert [row[0] for row in rows] == ["train_fn_00000", "train_fn_00002", "train_fn_00001"]
    assert rows[0][2] == "xxxxxxx..."


def test_progress_rows_time_total_samples_and_bad_columns(trials):
    header, *_ = progress_rows(
        trials, None, None, None, None, None, total_samples=10, elapsed_s=83, current_time="T"
    )
    assert header == [
        "Trial status: 1 PENDING | 2 RUNNING | 1 TERMINATED | 1 ERROR (5/10 trials)",
        "Current time: T. Total running time: 1min 23s",
    ]
    with pytest.raises(TypeError, match="metric_columns must be a list"):
        progress_rows(trials, None, None, "loss", None, None)
    with pytest.raises(ValueError, match="mode must be"):
        progress_rows(trials, "loss", "best", None, None, None)


def test_format_value_and_duration():
    assert format_value(0.123456789) == "0.12346"
    assert format_value(123456.789) == "1.2346e+05"
    assert format_value(3) == "3" and format_value(True) == "True" and format_value(None) == ""
    assert format_value("a\nb") == "a b"
    assert format_duration(12.4) == "12s" and format_duration(3725) == "1hr 2min 5s"


def test_best_trial_min_max_skips_missing_and_nan():
    trials = [
        make_trial(0, TrialStatus.TERMINATED, loss=0.5),
        make_trial(1, TrialStatus.TERMINATED, loss=float("nan")),
        make_trial(2, TrialStatus.RUNNING),
        make_trial(3, TrialStatus.RUNNING, loss=0.2),
    ]
    assert best_trial(trials, "loss", "min") is trials[3]
    assert best_trial(trials, "loss", "max") is trials[0]
    assert best_trial(trials, "loss", None) is None
    assert best_trial(trials, "acc", "max") is None
    assert best_trial([], "loss", "min") is None
    with pytest.raises(ValueError, match="'min', 'max'"):
        best_trial(trials, "loss", "minimum")


def test_error_rows_list_failed_trials(trials):
    trials[4].num_failures = 2
    trials[4].error_file = "/exp/train_fn_00004/error.txt"
    header, columns, rows, footer = error_rows(trials)
    assert header == ["Number of errored trials: 1"]
    assert columns == ["Trial name", "# failures", "error file"]
    assert rows == [["train_fn_00004", "2", "/exp/train_fn_00004/error.txt"]]
    assert footer == []
    assert error_rows(trials[:4]) == ([], [], [], [])


# -- frequency on a virtual clock -------------------------------------------------------------


def test_should_report_at_most_every_max_report_frequency_seconds(trials):
    clock = Clock()
    reporter = CLIReporter(max_report_frequency=5, clock=clock, stream=io.StringIO())
    assert reporter.should_report(trials)  # the first report comes at once
    clock.now += 4.9
    assert not reporter.should_report(trials)
    assert reporter.should_report(trials, done=True)  # the end is always reported
    clock.now += 4.9
    assert not reporter.should_report(trials)
    clock.now += 0.1
    assert reporter.should_report(trials)
    assert not CLIReporter(verbose=0, clock=clock).should_report(trials, done=True)


# -- plain text, terminal, notebook -----------------------------------------------------------


def test_plain_text_report_has_no_ansi_and_shows_time_and_errors(trials):
    clock, out = Clock(), io.StringIO()
    trials[4].num_failures = 1
    trials[4].error_file = "/exp/err.txt"
    reporter = CLIReporter(metric="loss", mode="min", stream=out, clock=clock)
    reporter.setup()
    clock.now += 12
    reporter.report(trials, False, "Logical resource usage: 2.0/4 CPUs")
    text = out.getvalue()
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0] == "Trial status: 1 PENDING | 2 RUNNING | 1 TERMINATED | 1 ERROR"
    assert lines[1].startswith("Current best trial: train_fn_00001 with loss=0.12346")
    assert "Total running time: 12s" in lines[2]
    assert lines[3] == "Logical resource usage: 2.0/4 CPUs"
    assert re.search(r"train_fn_00001\s+RUNNING\s+0\.1\s+0\.12346\s+3\s+12\.346", text)
    assert "Number of errored trials: 1" in text and "/exp/err.txt" in text


def test_intermediate_tables_can_be_left_to_the_end(trials):
    out = io.StringIO()
    reporter = CLIReporter(print_intermediate_tables=False, stream=out, clock=Clock())
    reporter.report(trials, False)
    text = out.getvalue()
    assert "Trial status:" in text and "train_fn_00001" not in text  # no trial table...
    assert "Number of errored trials: 1" in text  # ...but the errors, as Ray does
    reporter.report(trials, True)
    assert "train_fn_00001" in out.getvalue()


def test_max_progress_rows_while_running_all_rows_at_the_end():
    trials = [make_trial(i, TrialStatus.TERMINATED, loss=float(i)) for i in range(8)]
    out = io.StringIO()
    reporter = CLIReporter(max_progress_rows=3, stream=out, clock=Clock())
    reporter.report(trials, False)
    assert "... 5 more trials not shown (5 TERMINATED)" in out.getvalue()
    assert "train_fn_00007" not in out.getvalue()
    reporter.report(trials, True)
    assert "train_fn_00007" in out.getvalue()


def test_terminal_report_is_a_live_rich_table_updated_in_place(trials):
    out = TTY()
    reporter = CLIReporter(metric="loss", mode="min", stream=out, clock=Clock(), verbose=2)
    reporter.report(trials, False)
    assert reporter._live is not None  # a rich Live display is running on the stream
    assert reporter._live.console.file is out and reporter._live.console.is_terminal
    first = out.getvalue()
    assert ANSI.search(first) and "train_fn_00001" in first
    assert "\x1b[?25l" in first  # the cursor is hidden while the table is live
    reporter.report_trial_event(trials[0], TrialEvent.COMPLETE)  # printed above the table
    reporter.report(trials, False)
    redraw = out.getvalue()[len(first) :]
    assert "\x1b[1A\x1b[2K" in redraw  # cursor up + erase line: redrawn in place
    assert "Trial train_fn_00000 completed after 3 iterations" in redraw
    reporter.report(trials, True)
    assert reporter._live is None
    assert out.getvalue().endswith("\n") and "\x1b[?25h" in out.getvalue()  # cursor back


def test_event_lines_follow_verbose(trials):
    for verbose, expected in [(1, 0), (2, 1), (3, 3)]:
        out = io.StringIO()
        reporter = CLIReporter(stream=out, verbose=verbose, metric="loss")
        reporter.report_trial_event(trials[1], "start")
        reporter.report_trial_event(trials[1], "result", trials[1].last_result)
        reporter.report_trial_event(trials[0], TrialEvent.COMPLETE)
        assert len(out.getvalue().splitlines()) == expected
    out = io.StringIO()
    silent = CLIReporter(stream=out, verbose=0, clock=Clock())
    silent.report(trials, True)
    assert out.getvalue() == ""


def test_trial_event_lines(trials):
    trial = trials[4]
    trial.num_failures = 1
    trial.error_msg = "Traceback (most recent call last):\n  ...\nValueError: lr too large\n"
    trial.error_file = "/exp/train_fn_00004/error.txt"
    result = {"loss": 0.25, "acc": 0.8, "training_iteration": 7, "pid": 1}
    assert (
        trial_event_line(trials[3], "result", result, metric="loss")
        == "Trial train_fn_00003 reported loss=0.25 with iteration=7"
    )
    assert (
        trial_event_line(trials[3], TrialEvent.RESULT, result)
        == "Trial train_fn_00003 reported loss=0.25, acc=0.8 with iteration=7"
    )
    assert trial_event_line(trials[0], "complete") == (
        "Trial train_fn_00000 completed after 3 iterations (12s). Last result: loss=0.5, acc=0.7"
    )
    assert trial_event_line(trial, "error") == (
        "Trial train_fn_00004 errored after 3 iterations (12s) (failure 1): "
        "ValueError: lr too large. Error file: /exp/train_fn_00004/error.txt"
    )
    assert trial_event_line(trials[2], "start") == (
        "Trial train_fn_00002 started with config={'lr': 0.01, 'epochs': 8}"
    )
    with pytest.raises(ValueError):
        trial_event_line(trial, "finished")


class FakeHandle:
    def __init__(self, log, obj) -> None:
        self.log = log
        self.log.append(("display", obj))

    def update(self, obj) -> None:
        self.log.append(("update", obj))


@pytest.fixture
def fake_ipython(monkeypatch):
    """A fake ``IPython`` with ``display`` / ``HTML`` and a ZMQ shell: a notebook kernel."""
    log: list = []

    class ZMQInteractiveShell:
        pass

    ipython = types.ModuleType("IPython")
    display_module = types.ModuleType("IPython.display")
    ipython.get_ipython = ZMQInteractiveShell
    ipython.display = display_module

    def display(obj, display_id=False):
        assert display_id is True
        return FakeHandle(log, obj)

    display_module.display = display
    display_module.HTML = lambda html: ("HTML", html)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return log


def test_jupyter_reporter_updates_one_html_table_in_place(fake_ipython, trials):
    clock = Clock()
    reporter = JupyterNotebookReporter(metric="loss", mode="min", clock=clock)
    reporter.report(trials, False)
    trials[2].status = TrialStatus.RUNNING
    clock.now += 7
    reporter.report(trials, True)
    assert [kind for kind, _ in fake_ipython] == ["display", "update"]
    kind, html = fake_ipython[1][1]
    assert kind == "HTML"
    assert "<table>" in html and "<td" in html and "train_fn_00002" in html
    assert "Trial status: 3 RUNNING | 1 TERMINATED | 1 ERROR" in html
    assert "Total running time: 7s" in html
    again = JupyterNotebookReporter(overwrite=False, clock=clock)
    again.report(trials, False)
    again.report(trials, False)
    assert [kind for kind, _ in fake_ipython[2:]] == ["display", "display"]


def test_html_escapes_cells():
    progress = (["a < b"], ["Trial name", "status"], [["<script>", "RUNNING"]], [])
    html = render_html(progress, ([], [], [], []))
    assert "<script>" not in html and "&lt;script&gt;" in html and "a &lt; b" in html


def test_default_reporter_picks_by_environment(monkeypatch, fake_ipython):
    assert in_notebook()
    assert isinstance(default_reporter(1), JupyterNotebookReporter)
    monkeypatch.delitem(sys.modules, "IPython")
    assert not in_notebook()
    out = io.StringIO()
    reporter = default_reporter(2, stream=out)
    assert type(reporter) is CLIReporter and reporter.verbose == 2
    with pytest.raises(ValueError, match="verbose must be"):
        default_reporter(4)


def test_importing_progress_imports_neither_rich_nor_ipython():
    code = (
        "import sys, caliper.tune.progress; print('rich' in sys.modules, 'IPython' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- construction and setup -------------------------------------------------------------------


def test_unknown_and_bad_arguments_raise():
    with pytest.raises(TypeError, match="max_progress"):
        CLIReporter(max_progress=3)
    with pytest.raises(TypeError):
        JupyterNotebookReporter(overwrite=True, colour=True)
    with pytest.raises(ValueError, match="max_progress_rows must be an integer >= 1"):
        CLIReporter(max_progress_rows=0)
    with pytest.raises(ValueError, match="mode must be"):
        CLIReporter(mode="lowest")
    with pytest.raises(TypeError, match="parameter_columns must be a list"):
        CLIReporter(parameter_columns="lr")
    with pytest.raises(ValueError, match="max_report_frequency"):
        CLIReporter(max_report_frequency=-1)
    with pytest.raises(TypeError, match="overwrite must be a bool"):
        JupyterNotebookReporter(overwrite="yes")


def test_added_columns_and_setup(trials):
    out = io.StringIO()
    reporter = CLIReporter(metric_columns={"loss": "Loss"}, stream=out, clock=Clock())
    reporter.add_metric_column("acc", "Accuracy")
    reporter.add_parameter_column("epochs")
    with pytest.raises(ValueError, match="already exists"):
        reporter.add_metric_column("acc")
    reporter.setup(total_samples=10, metric="loss", mode="min", verbose=3)
    assert reporter.verbose == 3
    reporter.report(trials, False)
    text = out.getvalue()
    assert "(5/10 trials)" in text and "Current best trial: train_fn_00001" in text
    header = next(line for line in text.splitlines() if line.startswith("Trial name"))
    # given metric columns plus the added one; inferred parameter columns plus the added one
    assert header.split() == ["Trial", "name", "status", "lr", "epochs", "Loss", "Accuracy"]
    clash = CLIReporter(metric="acc", mode="max")
    with pytest.raises(ValueError, match="metric is given twice and differently: 'acc'"):
        clash.setup(metric="loss", mode="max")


def test_progress_reporter_base_is_abstract(trials):
    base = ProgressReporter()
    base.setup(start_time=0.0, total_samples=1, metric="loss", mode="min", future=True)
    with pytest.raises(NotImplementedError):
        base.should_report(trials)
    with pytest.raises(NotImplementedError):
        base.report(trials, True)


# -- the summary ------------------------------------------------------------------------------


def test_final_summary(trials, tmp_path):
    trials[4].error_file = "/exp/train_fn_00004/error.txt"
    path = str(tmp_path / "my exp")
    text = final_summary(trials, "loss", "min", path, 75.0)
    lines = text.splitlines()
    assert lines[0] == "Experiment finished after 1min 15s: 5 trials."
    assert lines[1] == "Trial status: 1 PENDING | 2 RUNNING | 1 TERMINATED | 1 ERROR"
    assert "Best trial: train_fn_00001 with loss=0.12346 (min)" in lines
    assert "  config: {'lr': 0.1, 'epochs': 8}" in lines
    assert "  train_fn_00004: /exp/train_fn_00004/error.txt" in lines
    assert f"Results are in {path}" in lines
    assert f"caliper.tune.ResultGrid.from_path('{path}')" in text
    plain = final_summary(trials[:1], None, None, "/r/exp", 3)
    assert "No best trial: pass metric= and mode=" in plain
    assert "caliper.tune.ResultGrid.from_path('/r/exp')" in plain
