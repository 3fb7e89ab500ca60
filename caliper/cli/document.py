"""A YAML experiment file as plain data, with the line of every key, and ``--set`` overrides.

pyyaml reads YAML 1.1, where ``1e-4`` is a string; here it is a float, as a user means it
(``1.0e-4``, ``.5`` and ``1_000`` are numbers too). Every mapping key and list item remembers
its line, so an error can say where the bad value is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[Any, ...]

_FLOAT_TAG = "tag:yaml.org,2002:float"
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


class Loader(yaml.SafeLoader):
    """pyyaml's safe loader, with ``1e-4`` read as a float."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _FLOAT_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, list("-+0123456789."))


class ConfigError(Exception):
    """A bad experiment file or argument, told in one line: where, and what is expected."""

    def __init__(self, message: str, file: str | None = None, path: Path = (), line=None):
        super().__init__(message)
        self.message, self.file, self.path, self.line = message, file, tuple(path), line

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None and where:
            where += f":{self.line}"
        if self.path:
            where = f"{where}: {format_path(self.path)}" if where else format_path(self.path)
        return f"{where}: {self.message}" if where else self.message


def format_path(path: Path) -> str:
    """``("tune_config", "scheduler", 0)`` -> ``tune_config.scheduler[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_value(text: str) -> Any:
    """A ``--set`` value or any YAML scalar/flow text, read as YAML (``1e-3`` is a float)."""
    return yaml.load(text, Loader=Loader)  # a SafeLoader


@dataclass
class Document:
    """The data of a YAML file and the line (1-based) of each key path found in it."""

    data: Any
    file: str
    lines: dict[Path, int | None] = field(default_factory=dict)
    overrides: set[Path] = field(default_factory=set)

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor the file has."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: Path, message: str) -> ConfigError:
        path = tuple(path)
        if any(path[:n] in self.overrides for n in range(1, len(path) + 1)):
            message += " (the value comes from --set)"
        return ConfigError(message, self.file, path, self.line(path))


def _marks(node: yaml.Node, loader: Loader, path: Path, lines: dict[Path, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            sub = (*path, key)
            lines[sub] = key_node.start_mark.line + 1
            _marks(value_node, loader, sub, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*path, index)
            lines[sub] = item.start_mark.line + 1
            _marks(item, loader, sub, lines)


def load_document(file: str) -> Document:
    """Read ``file``; a missing file or a YAML syntax error is a :class:`ConfigError`."""
    try:
        with open(file, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read the experiment file ({exc.strerror})", file) from None
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines: dict[Path, int] = {}
        if node is not None:
            _marks(node, loader, (), lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"not valid YAML: {problem}", file, line=mark.line + 1 if mark else None
        ) from None
    finally:
        loader.dispose()
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"expected a mapping of sections (trainable, param_space, tune_config, ...), "
            f"got {type(data).__name__}",
            file,
            line=1,
        )
    return Document(data, file, lines)


def apply_override(doc: Document, assignment: str) -> None:
    """Apply ``--set a.b.c=value`` (the value read as YAML) to ``doc``; intermediate mappings
    are created as needed."""
    key, sep, text = assignment.partition("=")
    where = f"--set {assignment}"
    if not sep or not key.strip():
        raise ConfigError("expected --set path.to.key=value (e.g. --set tune_config.num_samples=4)")
    parts = [part.strip() for part in key.split(".")]
    if any(not part for part in parts):
        raise ConfigError(f"{where}: empty part in the key path {key!r}")
    try:
        value = parse_value(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: the value is not valid YAML ({problem})") from None
    target = doc.data
    for depth, part in enumerate(parts[:-1]):
        child = target.get(part)
        if child is None:
            child = target[part] = {}
        if not isinstance(child, dict):
            path = format_path(tuple(parts[: depth + 1]))
            raise ConfigError(
                f"{where}: {path} is a {type(child).__name__}, not a mapping to set a key in"
            )
        target = child
    target[parts[-1]] = value
    doc.lines[tuple(parts)] = None  # the value comes from the command line, not the file
    doc.overrides.add(tuple(parts))
