"""The experiment's metric and mode, handed to a searcher, scheduler or reporter that may
have been given its own (``set_search_properties`` in Ray's names)."""

from __future__ import annotations

MODES = ("min", "max")


def merge_metric_mode(
    owner: str, own: tuple[str | None, str | None], metric: str | None, mode: str | None
) -> tuple[str | None, str | None]:
    """``owner``'s ``(metric, mode)`` filled in from the experiment's; the same one given
    twice and differently is an error, as is a mode other than "min" or "max"."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    for name, mine, given in (("metric", own[0], metric), ("mode", own[1], mode)):
        if mine is not None and given is not None and mine != given:
            raise ValueError(
                f"{name} is given twice and differently: {mine!r} to the {owner} and "
                f"{given!r} to TuneConfig; give it once"
            )
    return (own[0] if metric is None else metric, own[1] if mode is None else mode)
