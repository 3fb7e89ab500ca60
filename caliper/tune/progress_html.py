"""The Jupyter side of the progress display: whether this runs in a notebook, and the report
as one HTML fragment (what :class:`caliper.tune.progress.JupyterNotebookReporter` displays)."""

from __future__ import annotations

import sys
from html import escape

# (header lines, columns, rows, footer lines), as caliper.tune.progress_table returns them
Table = tuple[list[str], list[str], list[list[str]], list[str]]

_STYLE = "font-family: monospace; font-size: 90%"
_CELL = "padding: 1px 8px; text-align: left; white-space: nowrap"


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (``IPython.get_ipython()`` is a
    ``ZMQInteractiveShell``); never imports IPython itself, which a notebook has loaded."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and any(
        cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__
    )


def _status_color(status: str) -> str:
    colors = {"RUNNING": "green", "PAUSED": "darkorange", "PENDING": "gray", "ERROR": "red"}
    return colors.get(status, "inherit")


def html_table(columns: list[str], rows: list[list[str]], status_column: int | None = 1) -> str:
    """An HTML ``<table>`` of string cells (all escaped); ``status_column`` is coloured."""
    head = "".join(f'<th style="{_CELL}">{escape(column)}</th>' for column in columns)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            color = f"; color: {_status_color(cell)}" if i == status_column else ""
            cells.append(f'<td style="{_CELL}{color}">{escape(cell)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(progress: Table, errors: Table) -> str:
    """The report as HTML: header lines, the trial table, its footer, the errored trials."""
    header, columns, rows, footer = progress
    parts = [f'<div class="caliper-progress" style="{_STYLE}">']
    parts += [f"<div>{escape(line)}</div>" for line in header]
    if columns:
        parts.append(html_table(columns, rows))
    parts += [f"<div><em>{escape(line)}</em></div>" for line in footer]
    error_header, error_columns, failed, error_footer = errors
    if failed:
        parts += [f'<div style="color: red">{escape(line)}</div>' for line in error_header]
        parts.append(html_table(error_columns, failed, status_column=None))
        parts += [f"<div><em>{escape(line)}</em></div>" for line in error_footer]
    parts.append("</div>")
    return "\n".join(parts)
