"""Turning a search space into concrete configs, as Ray's variant generator does.

Every ``grid_search`` axis is crossed with every other one, and the whole grid is repeated
``num_samples`` times: ``num_samples * prod(len(axis))`` configs. Within a grid, the axis whose
path sorts first changes fastest. Other domains are sampled anew for each config, in path
order, from one injected ``numpy.random.Generator``, so a seed gives the same configs;
``sample_from`` functions run last and see everything else already resolved, in as many passes
as their dependencies on each other need.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping

import numpy as np

from caliper.tune.search_space import GRID_KEY, Domain, Function, is_grid

Path = tuple[object, ...]


class _Unresolved(Exception):
    """A ``sample_from`` function read a value that is not resolved yet."""


class ConfigView(Mapping):
    """Read-only view of a partly resolved config for ``sample_from``: ``view.lr`` or
    ``view["lr"]``; reading a value not resolved yet defers the function to a later pass."""

    def __init__(self, data: Mapping) -> None:
        self._data = data

    def __getitem__(self, key):
        value = self._data[key]
        if isinstance(value, Domain) or is_grid(value):
            raise _Unresolved(key)
        return ConfigView(value) if isinstance(value, Mapping) else value

    def __getattr__(self, key: str):
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"the config has no key {key!r}") from None

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class Spec(ConfigView):
    """What a ``sample_from`` function receives: ``spec.config`` (also ``spec["config"]``)."""

    def __init__(self, config: Mapping) -> None:
        super().__init__({"config": config})


def find_variables(space: object, path: Path = ()) -> tuple[list, list]:
    """``(grid axes, domains)`` of ``space``: lists of ``(path, values)`` and
    ``(path, Domain)``, each sorted by path. Paths index nested dicts and lists."""
    grid: list[tuple[Path, list]] = []
    domains: list[tuple[Path, Domain]] = []
    if is_grid(space):
        grid.append((path, space[GRID_KEY]))
    elif isinstance(space, Domain):
        domains.append((path, space))
    elif isinstance(space, Mapping):
        for key, value in space.items():
            sub_grid, sub_domains = find_variables(value, (*path, key))
            grid += sub_grid
            domains += sub_domains
    elif isinstance(space, list | tuple):
        for index, value in enumerate(space):
            sub_grid, sub_domains = find_variables(value, (*path, index))
            grid += sub_grid
            domains += sub_domains
    if not path:
        grid.sort(key=lambda item: _path_key(item[0]))
        domains.sort(key=lambda item: _path_key(item[0]))
    return grid, domains


def _path_key(path: Path) -> tuple:
    return tuple((0, k) if isinstance(k, int) else (1, str(k)) for k in path)


def count_variants(space: object, num_samples: int) -> int:
    """How many configs :func:`generate_variants` yields."""
    grid, _ = find_variables(space)
    total = num_samples
    for _, values in grid:
        total *= len(values)
    return total


def grid_points(grid: list[tuple[Path, list]]) -> Iterator[list[tuple[Path, object]]]:
    """Every combination of grid values, the first axis changing fastest (as Ray)."""
    if not grid:
        yield []
        return
    axes = [[(path, value) for value in values] for path, values in grid]
    for combo in itertools.product(*reversed(axes)):
        yield list(reversed(combo))


def _copy(space: object) -> object:
    """Copy the containers of ``space``; leaves (domains, constants) are shared."""
    if isinstance(space, Mapping) and not is_grid(space):
        return {key: _copy(value) for key, value in space.items()}
    if isinstance(space, list):
        return [_copy(value) for value in space]
    if isinstance(space, tuple):
        return tuple(_copy(value) for value in space)
    return space


def _assign(config: object, path: Path, value: object) -> object:
    """Set ``value`` at ``path`` (tuples are rebuilt); returns the possibly new root."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(config, tuple):
        items = list(config)
        items[head] = _assign(items[head], rest, value)
        return tuple(items)
    config[head] = _assign(config[head], rest, value)
    return config


def resolve(config: dict, domains: list[tuple[Path, Domain]], rng: np.random.Generator) -> dict:
    """Sample every domain of ``config`` in place (``sample_from`` last). Returns it."""
    functions = []
    for path, domain in domains:
        if isinstance(domain, Function):
            functions.append((path, domain))
        else:
            config = _assign(config, path, domain.sample(rng))
    spec = Spec(config)
    for _ in range(len(functions) + 1):
        if not functions:
            return config
        deferred = []
        for path, domain in functions:
            try:
                config = _assign(config, path, domain.sample(rng, spec))
            except _Unresolved:
                deferred.append((path, domain))
        if len(deferred) == len(functions):
            break
        functions = deferred
    where = ", ".join(".".join(map(str, path)) for path, _ in functions)
    raise ValueError(
        f"sample_from at {where} reads values that never get resolved "
        "(sample_from functions that depend on each other in a cycle?)"
    )


def generate_variants(space: Mapping, num_samples: int, rng: np.random.Generator) -> Iterator[dict]:
    """The configs of ``space``: ``num_samples`` repetitions of the full grid."""
    if not isinstance(space, Mapping):
        raise TypeError(f"param_space must be a dict, got {type(space).__name__}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
    grid, domains = find_variables(space)
    for _ in range(num_samples):
        for point in grid_points(grid):
            config = _copy(space)
            for path, value in point:
                config = _assign(config, path, value)
            yield resolve(config, domains, rng)
