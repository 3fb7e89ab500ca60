"""caliper search spaces as HyperOpt expressions, and configs as HyperOpt's ``vals`` (pure
functions; ``hyperopt`` is imported when they run).

=======================================  ====================================================
caliper domain (at path ``p``)            HyperOpt expression (label ``"p"``)
=======================================  ====================================================
``uniform(a, b)`` / ``quniform``          ``hp.uniform(p, a, b)`` / ``hp.quniform(p, a, b, q)``
``loguniform(a, b)`` / ``qloguniform``    ``hp.loguniform(p, ln a, ln b)`` / ``hp.qloguniform``
``randn(m, s)`` / ``qrandn``              ``hp.normal(p, m, s)`` / ``hp.qnormal(p, m, s, q)``
``randint(a, b)``                         ``int(hp.quniform(p, a, b - 1, 1))``
``qrandint(a, b, q)``                     ``int(hp.quniform(p, ceil(a/q)*q, floor(b/q)*q, q))``
``lograndint(a, b)`` / ``qlograndint``    ``int(hp.qloguniform(p, ln a, ln b', q or 1))``,
                                          kept within ``[a, b']``
``choice([...])``                         ``hp.choice(p, [...])``; a dict among the categories
                                          is a sub-space whose labels are ``"p/<index>/key"``
                                          (a conditional space)
constants                                 kept as they are
``sample_from``, ``grid_search``          an error naming the parameter
=======================================  ====================================================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from caliper.searchers.space import category_index, has_domains, path_name
from caliper.tune.search_space import (
    GRID_KEY,
    Categorical,
    Domain,
    Float,
    Function,
    Integer,
    Sampler,
    is_grid,
)

OWNER = "HyperOptSearch"


def is_native(space: object) -> bool:
    """Whether ``space`` holds HyperOpt expressions (``hp.*``)."""
    if type(space).__module__.startswith("hyperopt.pyll"):
        return True
    if isinstance(space, Mapping):
        return any(is_native(v) for v in space.values())
    if isinstance(space, list | tuple):
        return any(is_native(v) for v in space)
    return False


def to_hyperopt(space: object, path: tuple = ()) -> Any:
    """The HyperOpt expression of a caliper search space (see the module's table)."""
    from hyperopt.pyll import Literal

    if is_grid(space):
        raise ValueError(
            f"{OWNER} cannot search grid_search at {path_name(path)!r}: it chooses values "
            f"itself. Use tune.choice({space[GRID_KEY]!r}) instead, or BasicVariantGenerator"
        )
    if isinstance(space, Domain):
        return domain_expression(space, path)
    if isinstance(space, Mapping):
        return {key: to_hyperopt(value, (*path, key)) for key, value in space.items()}
    if isinstance(space, list | tuple) and has_domains(list(space)):
        return [to_hyperopt(value, (*path, i)) for i, value in enumerate(space)]
    return Literal(space)


def domain_expression(domain: Domain, path: tuple) -> Any:
    """The ``hp.*`` expression of one domain, labelled with its path."""
    from hyperopt import hp
    from hyperopt.pyll import scope

    label = path_name(path)
    if isinstance(domain, Function):
        raise ValueError(
            f"{OWNER} cannot search sample_from at {label!r}: it needs a distribution to model. "
            "Use tune.uniform/loguniform/randint/choice instead, or a choice among dicts for "
            "conditional values"
        )
    if isinstance(domain, Categorical):
        return hp.choice(
            label, [to_hyperopt(c, (*path, i)) for i, c in enumerate(domain.categories)]
        )
    q = domain.q
    if isinstance(domain, Float):
        if domain.sampler is Sampler.NORMAL:
            if q is None:
                return hp.normal(label, domain.mean, domain.sd)
            return hp.qnormal(label, domain.mean, domain.sd, q)
        if domain.sampler is Sampler.LOG_UNIFORM:
            low, high = math.log(domain.lower), math.log(domain.upper)
            if q is None:
                return hp.loguniform(label, low, high)
            return hp.qloguniform(label, low, high, q)
        if q is None:
            return hp.uniform(label, domain.lower, domain.upper)
        return hp.quniform(label, domain.lower, domain.upper, q)
    if isinstance(domain, Integer):
        step = int(q or 1)
        high = domain.upper if q is not None else domain.upper - 1
        if domain.sampler is Sampler.LOG_UNIFORM:
            value = hp.qloguniform(label, math.log(domain.lower), math.log(high), step)
            return scope.int(scope.minimum(scope.maximum(value, domain.lower), high))
        low = math.ceil(domain.lower / step) * step
        return scope.int(hp.quniform(label, low, (high // step) * step, step))
    raise ValueError(f"{OWNER} cannot search {label!r}: {domain!r} has no HyperOpt expression")


def to_vals(
    space: object, point: Mapping, rng: np.random.Generator, path: tuple = ()
) -> dict[str, Any]:
    """HyperOpt's ``vals`` (label -> value; a choice's value is its index) for a point to
    evaluate. Values the point leaves out are drawn from their domains with ``rng``."""
    vals: dict[str, Any] = {}
    if isinstance(space, Mapping) and not is_grid(space):
        point = point if isinstance(point, Mapping) else {}
        for key, sub in space.items():
            vals.update(to_vals(sub, point.get(key, _MISSING), rng, (*path, key)))
    elif isinstance(space, list | tuple) and has_domains(list(space)):
        for i, sub in enumerate(space):
            given = point[i] if isinstance(point, list | tuple) and i < len(point) else _MISSING
            vals.update(to_vals(sub, given, rng, (*path, i)))
    elif isinstance(space, Categorical):
        if point is _MISSING:
            index = int(rng.integers(len(space.categories)))
        else:
            index = category_index(space.categories, point)
        vals[path_name(path)] = index
        chosen = space.categories[index]
        sub_point = point if isinstance(point, Mapping) else {}
        vals.update(to_vals(chosen, sub_point, rng, (*path, index)))
    elif isinstance(space, Domain):
        value = space.sample(rng) if point is _MISSING else point
        vals[path_name(path)] = value
    return vals


class _Missing(dict):
    """A value a point to evaluate leaves out (an empty mapping, so walks go on below it)."""


_MISSING = _Missing()
