"""The Pareto front of several objectives, as a pure function over plain numbers."""

from __future__ import annotations

from collections.abc import Sequence

MODES = ("min", "max")


def check_objectives(metric: object, mode: object) -> tuple[list[str], list[str]]:
    """``metric`` and ``mode`` as lists of the same length, each mode "min" or "max"."""
    if not isinstance(metric, list | tuple) or not isinstance(mode, list | tuple):
        raise ValueError(
            "the Pareto front needs metric and mode as lists, one mode per metric "
            f"(e.g. metric=['loss', 'latency'], mode=['min', 'min']), got {metric!r}, {mode!r}"
        )
    if len(metric) != len(mode) or not metric:
        raise ValueError(
            f"metric and mode must have the same length, got {len(metric)} and {len(mode)}"
        )
    for m in mode:
        if m not in MODES:
            raise ValueError(f"each mode must be 'min' or 'max', got {m!r}")
    return list(metric), list(mode)


def dominates(a: Sequence[float], b: Sequence[float], modes: Sequence[str]) -> bool:
    """Whether ``a`` is at least as good as ``b`` in every objective and better in one."""
    better = False
    for x, y, mode in zip(a, b, modes, strict=True):
        if mode == "max":
            x, y = -x, -y
        if x > y:
            return False
        better = better or x < y
    return better


def pareto_front(points: Sequence[Sequence[float]], modes: Sequence[str]) -> list[int]:
    """The indices of the points no other point dominates, in order."""
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p, modes) for j, q in enumerate(points) if j != i)
    ]
