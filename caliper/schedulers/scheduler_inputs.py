"""What the early-stopping schedulers take in: their constructor arguments, checked, and the
time and metric read from a result, with errors that name the scheduler, the field and the
rule."""

from __future__ import annotations

import math
from collections.abc import Mapping

from caliper.schedulers.rungs import to_loss
from caliper.tune.trial import Trial, is_number


def check_name(owner: str, name: str, value: object, optional: bool = False) -> None:
    """``value`` is a non-empty string (or ``None`` when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        raise TypeError(f"{owner}({name}=...) must be a non-empty string, got {value!r}")


def check_number(
    owner: str, name: str, value: object, *, above: float | None = None, at_least: float = 0.0
) -> float:
    """``value`` is a real number (not a bool), greater than ``above`` when given, else at
    least ``at_least``."""
    if not is_number(value) or (isinstance(value, float) and math.isnan(value)):
        raise TypeError(f"{owner}({name}=...) must be a number, got {value!r}")
    if above is not None and not value > above:
        raise ValueError(f"{owner}({name}={value!r}): {name} must be > {above:g}")
    if above is None and not value >= at_least:
        raise ValueError(f"{owner}({name}={value!r}): {name} must be >= {at_least:g}")
    return value


def check_int(owner: str, name: str, value: object, at_least: int) -> int:
    """``value`` is an int (not a bool) of at least ``at_least``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}({name}=...) must be an int, got {value!r}")
    if value < at_least:
        raise ValueError(f"{owner}({name}={value!r}): {name} must be >= {at_least}")
    return value


def check_bool(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}({name}=...) must be True or False, got {value!r}")
    return value


def require_metric_mode(owner: str, metric: str | None, mode: str | None) -> None:
    """A scheduler that ranks trials needs both, from itself or from ``TuneConfig``."""
    if metric is None or mode is None:
        raise ValueError(
            f"{owner} needs a metric and a mode to rank trials (got metric={metric!r}, "
            f"mode={mode!r}): pass them to {owner}(metric=..., mode=...) or to "
            f"TuneConfig(metric=..., mode=...), e.g. metric='loss', mode='min'"
        )


def _reported(result: Mapping) -> list[str]:
    return sorted(k for k in result if k != "config")


def read_time(owner: str, time_attr: str, trial: Trial, result: Mapping) -> float:
    """The result's ``time_attr`` value (a number)."""
    value = result.get(time_attr)
    if value is None:
        raise ValueError(
            f"{owner}(time_attr={time_attr!r}): trial {trial} reported a result without "
            f"{time_attr!r}; it reported {_reported(result)}"
        )
    if not is_number(value):
        raise TypeError(
            f"{owner}(time_attr={time_attr!r}): trial {trial} reported {time_attr}={value!r}, "
            f"which is not a number"
        )
    return float(value)


def read_loss(owner: str, metric: str, mode: str, trial: Trial, result: Mapping) -> float:
    """The result's ``metric`` as a loss (lower is better; ``None`` and NaN give NaN, the
    worst)."""
    if metric not in result:
        raise ValueError(
            f"{owner}(metric={metric!r}): trial {trial} reported a result without the metric "
            f"{metric!r}; it reported {_reported(result)}"
        )
    value = result[metric]
    if value is not None and not is_number(value):
        raise TypeError(
            f"{owner}(metric={metric!r}): trial {trial} reported {metric}={value!r}, which is "
            f"not a number"
        )
    return to_loss(value, mode)
