"""The YAML form of a search space: a one-key mapping naming a primitive of ``tune``.

``lr: {loguniform: [1e-4, 1e-1]}`` is ``tune.loguniform(1e-4, 1e-1)``: a list gives the
positional arguments, a mapping the keyword ones (``{randn: {mean: 0, sd: 2}}``), a single
number the only argument. ``choice`` and ``grid_search`` take their list of values;
``sample_from`` takes a ``lambda spec: ...`` text or an import spec ``module:function``.
Any other mapping is nested config; any other value a constant.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from caliper.cli.document import Document, Path
from caliper.tune import search_space

PRIMITIVES: dict[str, Callable[..., Any]] = {
    name: getattr(search_space, name)
    for name in (
        "uniform",
        "quniform",
        "loguniform",
        "qloguniform",
        "randn",
        "qrandn",
        "randint",
        "qrandint",
        "lograndint",
        "qlograndint",
        "choice",
        "grid_search",
        "sample_from",
    )
}
_LIST_ARGUMENT = ("choice", "grid_search")  # their list is their one argument
_USAGE = {
    "uniform": "[lower, upper]",
    "quniform": "[lower, upper, q]",
    "loguniform": "[lower, upper]",
    "qloguniform": "[lower, upper, q]",
    "randn": "[mean, sd]",
    "qrandn": "[mean, sd, q]",
    "randint": "[lower, upper]",
    "qrandint": "[lower, upper, q]",
    "lograndint": "[lower, upper]",
    "qlograndint": "[lower, upper, q]",
    "choice": "[value, ...]",
    "grid_search": "[value, ...]",
    "sample_from": "'lambda spec: ...' or module:function",
}


def _function(text: Any, doc: Document, path: Path) -> Callable:
    if not isinstance(text, str) or not text.strip():
        raise doc.error(path, f"sample_from expects {_USAGE['sample_from']}, got {text!r}")
    if text.lstrip().startswith("lambda"):
        try:
            # the experiment file is the user's own code, like the trainable it names
            fn = eval(text, {"math": math, "np": np, "__builtins__": __builtins__})
        except SyntaxError as exc:
            raise doc.error(path, f"sample_from: not a valid lambda ({exc.msg})") from None
        return fn
    from caliper.cli.trainable import import_object

    return import_object(text, doc, path)


def build_primitive(name: str, argument: Any, doc: Document, path: Path) -> Any:
    """``tune.<name>(...)`` from its YAML argument; a bad one is a one-line error at ``path``."""
    if name == "sample_from":
        return search_space.sample_from(_function(argument, doc, path))
    if name in _LIST_ARGUMENT:
        if not isinstance(argument, list):
            raise doc.error(
                path, f"{name} expects a list {_USAGE[name]}, got {type(argument).__name__}"
            )
        args, kwargs = [[convert(v, doc, (*path, i)) for i, v in enumerate(argument)]], {}
    elif isinstance(argument, list):
        args, kwargs = argument, {}
    elif isinstance(argument, dict):
        args, kwargs = [], argument
    elif isinstance(argument, int | float) and not isinstance(argument, bool):
        args, kwargs = [argument], {}
    else:
        raise doc.error(path, f"{name} expects {_USAGE[name]}, got {argument!r}")
    try:
        return PRIMITIVES[name](*args, **kwargs)
    except TypeError as exc:
        text = str(exc)
        if "argument" in text and name in text.split("(")[0]:  # wrong count or keyword
            text = f"{text.split(') ', 1)[-1]}; expected {name}: {_USAGE[name]}"
        raise doc.error(path, f"bad {name}: {text}") from None
    except ValueError as exc:
        raise doc.error(path, f"bad {name}: {exc}") from None


def convert(value: Any, doc: Document, path: Path) -> Any:
    """The search space for the YAML ``value`` found at ``path`` of ``doc``."""
    if isinstance(value, dict):
        if len(value) == 1:
            (key,) = value
            if key in PRIMITIVES:
                return build_primitive(key, value[key], doc, (*path, key))
            close = _close_primitive(str(key))
            if close:
                raise doc.error(
                    (*path, key),
                    f"unknown search-space primitive {key!r} (did you mean {close}?); "
                    f"expected one of {', '.join(PRIMITIVES)}",
                )
        named = [k for k, v in value.items() if k in PRIMITIVES and isinstance(v, list | dict)]
        if named and len(value) > 1:
            raise doc.error(
                (*path, named[0]),
                f"a search-space primitive must be the only key of its mapping, e.g. "
                f"{{{named[0]}: {_USAGE[named[0]]}}}; this mapping also has "
                f"{sorted(k for k in value if k != named[0])}",
            )
        return {key: convert(item, doc, (*path, key)) for key, item in value.items()}
    if isinstance(value, list):
        return [convert(item, doc, (*path, i)) for i, item in enumerate(value)]
    return value


def _close_primitive(key: str) -> str | None:
    """The primitive a one-key mapping's key probably misspells (or abbreviates), if any."""
    if len(key) >= 4:
        for name in PRIMITIVES:
            if name.startswith(key.lower()):
                return name
    close = difflib.get_close_matches(key.lower(), PRIMITIVES, n=1, cutoff=0.6)
    return close[0] if close else None
