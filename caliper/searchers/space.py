"""What the model-based searchers share about a search space: its parameters as flat paths,
checks of points to evaluate against them, configs built from flat values, and lazy imports of
optional libraries with a message naming the extra to install.

A parameter's path is the tuple of keys leading to it in the (nested) space; its name, as the
libraries see it, joins the keys with ``/`` (``{"model": {"lr": ...}}`` -> ``"model/lr"``).
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from caliper.tune.search_space import Categorical, Domain, Float, Function, Integer, Sampler
from caliper.tune.variants import find_variables

Path = tuple[Any, ...]
SEP = "/"


def path_name(path: Path) -> str:
    """``("model", "lr")`` -> ``"model/lr"``."""
    return SEP.join(str(key) for key in path)


def require(module: str, extra: str, owner: str) -> Any:
    """Import the optional library ``module``; if it is missing, say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'{owner} needs the {module!r} package: pip install "caliper[{extra}]"'
        ) from exc


def has_domains(space: object) -> bool:
    """Whether ``space`` holds any caliper domain or ``grid_search`` marker."""
    grid, domains = find_variables(space)
    return bool(grid or domains)


def parameters(
    space: Mapping, owner: str, model_based: bool = True, hint: str = ""
) -> list[tuple[Path, Domain]]:
    """The ``(path, domain)`` pairs of ``space``, sorted by path.

    Raises:
        ValueError: a ``grid_search`` anywhere, or (``model_based``) a ``sample_from``: a
            model-based searcher chooses every value itself. The message names the parameter
            and what to use instead.
    """
    if not isinstance(space, Mapping):
        raise TypeError(f"{owner}: the search space must be a dict, got {type(space).__name__}")
    grid, domains = find_variables(space)
    if grid:
        where = path_name(grid[0][0])
        raise ValueError(
            f"{owner} cannot search grid_search at {where!r}: it chooses values itself. Use "
            f"tune.choice({grid[0][1]!r}) instead, or BasicVariantGenerator for a grid"
        )
    for path, domain in domains:
        if model_based and isinstance(domain, Function):
            raise ValueError(
                f"{owner} cannot search sample_from at {path_name(path)!r}: it needs a "
                f"distribution to model. Use tune.uniform/loguniform/randint/choice instead{hint}"
            )
    return domains


def choose_space(owner: str, own: object, param_space: Mapping | None) -> tuple[object, dict]:
    """The space to search and the constants to add to each config.

    A searcher's own space and a ``param_space`` with domains are the search space given
    twice: an error. With its own space, the ``param_space``'s constants (e.g. ``epochs``)
    still go into every config, as in Ray Tune.
    """
    base = dict(param_space or {})
    if own is None:
        if not base or not has_domains(base):
            raise ValueError(
                f"{owner} has no search space: pass one to the Tuner as param_space="
                "{'lr': tune.loguniform(1e-4, 1e-1)} or to the searcher as space="
            )
        return base, {}
    if has_domains(base):
        raise ValueError(
            f"the search space is given twice: to {owner}(space=...) and as the Tuner's "
            "param_space with search domains; give it once (constants in param_space are fine)"
        )
    return own, base


def check_value(domain: Domain, value: object) -> str | None:
    """Why ``value`` is outside ``domain`` (``None`` if it is inside)."""
    if isinstance(domain, Categorical):
        if category_index(domain.categories, value) is None:
            return f"is not one of {domain.categories!r}"
        return None
    if isinstance(domain, Function):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return "is not a number"
    if isinstance(domain, Integer) and value != int(value):
        return "is not an integer"
    if isinstance(domain, Float | Integer) and domain.sampler is not Sampler.NORMAL:
        inclusive = domain.q is not None or isinstance(domain, Float)
        upper_ok = value <= domain.upper if inclusive else value < domain.upper
        if not (domain.lower <= value and upper_ok and math.isfinite(value)):
            bracket = "]" if inclusive else ")"
            return f"is outside [{domain.lower}, {domain.upper}{bracket}"
    return None


def category_index(categories: Sequence[object], value: object) -> int | None:
    """The position of ``value`` among ``categories`` (the same object first, then ``==``)."""
    for i, category in enumerate(categories):
        if category is value:
            return i
    for i, category in enumerate(categories):
        try:
            if type(category) is type(value) and bool(category == value):
                return i
        except Exception:  # objects whose == is not a bool (arrays)
            continue
    for i, category in enumerate(categories):  # 1 == 1.0 for numbers of different types
        numeric = all(
            isinstance(x, numbers.Number) and not isinstance(x, bool) for x in (category, value)
        )
        if numeric and category == value:
            return i
    for i, category in enumerate(categories):  # a config of a sub-space among the categories
        if isinstance(category, Mapping) and has_domains(category) and matches(category, value):
            return i
    return None


def matches(template: object, value: object) -> bool:
    """Whether ``value`` is a config that ``template`` (a part of a space) can produce."""
    if isinstance(template, Domain):
        return check_value(template, value) is None
    if isinstance(template, Mapping):
        return (
            isinstance(value, Mapping)
            and set(value) <= set(template)
            and all(matches(template[k], v) for k, v in value.items())
        )
    try:
        return bool(template == value)
    except Exception:  # objects whose == is not a bool (arrays)
        return False


def flatten_point(point: Mapping, prefix: Path = ()) -> dict[Path, object]:
    """``{"a": {"b": 1}}`` -> ``{("a", "b"): 1}`` (dict values are walked into)."""
    flat: dict[Path, object] = {}
    for key, value in point.items():
        if isinstance(value, Mapping):
            flat.update(flatten_point(value, (*prefix, key)))
        else:
            flat[(*prefix, key)] = value
    return flat


def check_points(
    owner: str, points: Iterable[object], domains: Sequence[tuple[Path, Domain]]
) -> list[dict[Path, object]]:
    """Each point to evaluate as ``{path: value}``; a key the space does not search or a value
    outside its domain is an error naming the point, the key and the rule. Keys left out are
    chosen by the searcher."""
    by_path = dict(domains)
    out = []
    for index, point in enumerate(points):
        if not isinstance(point, Mapping):
            raise TypeError(f"{owner}: points_to_evaluate[{index}] must be a dict, got {point!r}")
        flat = {}
        for path, value in flatten_point(point).items():
            domain = by_path.get(path)
            if domain is None:  # a dict value for a parameter that takes dicts
                domain, path, value = _dict_valued(by_path, path, point)
            if domain is None:
                known = ", ".join(repr(path_name(p)) for p in by_path)
                raise ValueError(
                    f"{owner}: points_to_evaluate[{index}] sets {path_name(path)!r}, which is "
                    f"not a parameter of the search space (its parameters: {known})"
                )
            reason = check_value(domain, value)
            if reason is not None:
                raise ValueError(
                    f"{owner}: points_to_evaluate[{index}] sets {path_name(path)!r} to "
                    f"{value!r}, which {reason}"
                )
            flat[path] = value
        out.append(flat)
    return out


def _dict_valued(by_path: Mapping, path: Path, point: Mapping) -> tuple:
    """A point may give a whole dict as the value of a choice among dicts."""
    for size in range(len(path) - 1, 0, -1):
        prefix = path[:size]
        if prefix in by_path:
            value: Any = point
            for key in prefix:
                value = value[key]
            return by_path[prefix], prefix, value
    return None, path, None


def build_config(base: Mapping, values: Mapping[Path, object]) -> dict:
    """A copy of ``base`` (its dicts and lists copied) with each ``path`` set to its value;
    dicts missing on the way are created."""
    config = _copy(base)
    for path, value in values.items():
        node = config
        for key in path[:-1]:
            if isinstance(node, dict) and not isinstance(node.get(key), dict | list):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
    return config


def _copy(value: object) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def objective(result: Mapping | None, metric: str) -> float | None:
    """The finite value of ``metric`` in ``result`` (``None`` if missing, NaN or infinite)."""
    if not result:
        return None
    value = result.get(metric)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def check_metric_mode(owner: str, metric: object, mode: object) -> None:
    """A model-based searcher learns from a metric: both must be known before the first
    trial."""
    if metric is None or mode is None:
        raise ValueError(
            f"{owner} needs a metric and a mode to learn from: pass them to the searcher or to "
            "TuneConfig (e.g. TuneConfig(metric='loss', mode='min'))"
        )


def seed_of(owner: str, seed: object, name: str = "seed") -> int | None:
    """``seed`` checked to be an int or ``None``."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{owner}: {name} must be an int or None, got {seed!r}")
    return None if seed is None else int(seed)
