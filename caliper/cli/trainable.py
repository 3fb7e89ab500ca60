"""Finding the trainable an experiment file names, and remembering it for ``tune restore``.

A spec is ``module:function`` (imported with the current directory on ``sys.path``) or
``path/to/file.py:function`` (the file is loaded as a module whose code travels to the
workers by value, so they need not find the file). ``tune run`` writes the spec, with the
directory it was resolved from and the resources per trial, to ``cli_trainable.json`` in the
experiment directory.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from typing import Any

from caliper.cli.document import ConfigError, Document, Path

SPEC_FILE = "cli_trainable.json"
_EXPECTED = "expected module:function or path/to/file.py:function"


def _fail(message: str, doc: Document | None, path: Path) -> ConfigError:
    return doc.error(path, message) if doc is not None else ConfigError(message, path=path)


def _load_file(filename: str) -> Any:
    filename = os.path.abspath(filename)
    digest = hashlib.sha1(filename.encode()).hexdigest()[:8]
    stem = os.path.splitext(os.path.basename(filename))[0]
    name = f"_caliper_cli_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = os.path.dirname(filename)
    if folder not in sys.path:  # the file's own imports of its neighbours
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)  # workers get the code, not a module name
    return module


def import_object(
    spec: Any,
    doc: Document | None = None,
    path: Path = (),
    base_dir: str | None = None,
    fallback_dir: str | None = None,
) -> Any:
    """The object ``spec`` names; any failure is a one-line :class:`ConfigError` at ``path``.

    A relative file path is taken from ``base_dir`` (default: the current directory), or
    else from ``fallback_dir`` (the experiment file's directory) when it is there.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise _fail(f"{_EXPECTED}, got {spec!r}", doc, path)
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute.isidentifier():
        raise _fail(f"{_EXPECTED}, got {spec!r}", doc, path)
    base_dir = base_dir or os.getcwd()
    try:
        if target.endswith(".py") or os.sep in target or "/" in target:
            filename = os.path.join(base_dir, os.path.expanduser(target))
            other = os.path.join(fallback_dir or base_dir, os.path.expanduser(target))
            if not os.path.isfile(filename) and os.path.isfile(other):
                filename = other
            if not os.path.isfile(filename):
                raise _fail(f"cannot import {spec!r}: no file {filename}; {_EXPECTED}", doc, path)
            module = _load_file(filename)
        else:
            if base_dir not in sys.path:
                sys.path.insert(0, base_dir)
            module = importlib.import_module(target)
    except ConfigError:
        raise
    except Exception as exc:
        message = f"cannot import {spec!r}: {type(exc).__name__}: {exc}"
        raise _fail(message.replace("\n", " "), doc, path) from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise _fail(
            f"cannot import {spec!r}: {target} has no {attribute!r}; {_EXPECTED}", doc, path
        ) from None


def with_resources(trainable: Any, resources: dict | None) -> Any:
    if not resources:
        return trainable
    from caliper import tune

    return tune.with_resources(trainable, resources)


def save_spec(experiment_path: str, spec: str, base_dir: str, resources: dict | None) -> None:
    """Write the spec beside the experiment state, for ``tune restore``."""
    os.makedirs(experiment_path, exist_ok=True)
    data = {"trainable": spec, "base_dir": base_dir, "resources_per_trial": resources}
    tmp = os.path.join(experiment_path, f".{SPEC_FILE}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, os.path.join(experiment_path, SPEC_FILE))


def load_spec(experiment_path: str) -> dict | None:
    """What :func:`save_spec` wrote, or ``None`` for an experiment started from Python."""
    try:
        with open(os.path.join(experiment_path, SPEC_FILE), encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {SPEC_FILE}: {exc}", experiment_path) from None
