"""Names of experiments and trials, as Ray Tune forms them (pure functions).

A trial id is ``<5 hex of the experiment>_<index:05d>``; its name is
``<trainable>_<trial id>``; its experiment tag is ``<index>_<key>=<value>,...`` over the
sampled keys; its directory ``<name>_<index>_<tag values>_<date>`` (shortened).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_MAX_DIRNAME = 100
_UNSAFE = re.compile(r"[^\w.=,+-]+")


def trainable_name(trainable: object) -> str:
    name = getattr(trainable, "__name__", None) or type(trainable).__name__
    return _UNSAFE.sub("_", name) or "trainable"


def experiment_name(trainable: object, now: datetime) -> str:
    return f"{trainable_name(trainable)}_{now.strftime('%Y-%m-%d_%H-%M-%S')}"


def trial_id(experiment_hex: str, index: int) -> str:
    return f"{experiment_hex}_{index:05d}"


def _format(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"
    if isinstance(value, Mapping | list | tuple):
        return type(value).__name__
    return str(value)


def _lookup(config: object, path: tuple) -> object:
    for key in path:
        try:
            config = config[key]
        except (KeyError, IndexError, TypeError):
            return None
    return config


def tag_paths(space: Mapping) -> list[tuple[str, tuple]]:
    """The sampled keys of ``space`` an experiment tag shows, as ``(label, path)`` in the
    tag's order (worked out once per experiment)."""
    from caliper.tune.variants import find_variables  # numpy: not needed to name things

    grid, domains = find_variables(space)
    paths = sorted((path for path, _ in grid + domains), key=lambda p: tuple(map(str, p)))
    return [("/".join(map(str, path)), path) for path in paths]


def experiment_tag(index: int, config: Mapping, paths: list[tuple[str, tuple]]) -> str:
    """``3_lr=0.001,momentum=0.9``: the trial's index and the values it sampled at
    ``paths`` (see :func:`tag_paths`)."""
    parts = [f"{label}={_format(_lookup(config, path))}" for label, path in paths]
    return f"{index}_{','.join(parts)}" if parts else str(index)


def trial_dirname(name: str, tag: str, now: datetime) -> str:
    """A filesystem-safe directory name for the trial, at most 100 characters."""
    stamp = now.strftime("%Y-%m-%d_%H-%M-%S")
    body = _UNSAFE.sub("_", f"{name}_{tag}")
    room = _MAX_DIRNAME - len(stamp) - 1
    return f"{body[:room]}_{stamp}"


def dirname_and_name(
    trial: Any, trainable: object, dirname_creator: Any, name_creator: Any, now: datetime
) -> tuple[str, str]:
    """A new trial's directory name and name: Ray's defaults, or what the user's
    ``trial_dirname_creator`` / ``trial_name_creator`` give (called in that order, as Ray
    does; the directory creator sees the trial before it has a name)."""
    name = f"{trainable_name(trainable)}_{trial.trial_id}"
    dirname = (
        str(dirname_creator(trial))
        if dirname_creator
        else trial_dirname(name, trial.experiment_tag, now)
    )
    return dirname, str(name_creator(trial)) if name_creator else name
