"""caliper domains as Optuna distributions, and values to and from Optuna's (pure functions).

============================================  ===========================================
caliper domain                                Optuna distribution (value in the config)
============================================  ===========================================
``uniform(a, b)``                             ``FloatDistribution(a, b)``
``loguniform(a, b)``                          ``FloatDistribution(a, b, log=True)``
``quniform(a, b, q)``                         ``IntDistribution(ceil(a/q), floor(b/q))``
                                              (``k * q``)
``qloguniform(a, b, q)``                      ``FloatDistribution(a, b, log=True)``
                                              (rounded to a multiple of ``q`` in ``[a, b]``)
``randint(a, b)``                             ``IntDistribution(a, b - 1)``
``qrandint(a, b, q)``                         ``IntDistribution(ceil(a/q)*q, floor(b/q)*q,
                                              step=q)``
``lograndint(a, b)``                          ``IntDistribution(a, b - 1, log=True)``
``qlograndint(a, b, q)``                      ``IntDistribution(a, b, log=True)`` (rounded)
``choice([...])`` of None/bool/int/float/str  ``CategoricalDistribution([...])``
``choice([...])`` of other values             ``CategoricalDistribution(range(n))`` (the
                                              category at that index)
``randn``, ``sample_from``, ``grid_search``   an error (unbounded, or not a distribution)
============================================  ===========================================
"""

from __future__ import annotations

import math
from typing import Any

from caliper.searchers.space import category_index, has_domains
from caliper.tune.search_space import Categorical, Domain, Float, Integer, Sampler

PRIMITIVES = (type(None), bool, int, float, str)


def by_index(domain: Domain) -> bool:
    """Whether Optuna chooses among ``domain``'s categories by index (they are not all of the
    types Optuna stores)."""
    return isinstance(domain, Categorical) and not all(
        type(c) in PRIMITIVES for c in domain.categories
    )


def quantize(value: float, q: float, lower: float, upper: float) -> float:
    """The multiple of ``q`` nearest to ``value`` that lies within ``[lower, upper]``."""
    rounded = round(value / q) * q
    if rounded < lower:
        rounded += q
    if rounded > upper:
        rounded -= q
    return rounded


def distribution(domain: Domain, name: str) -> Any:
    """The Optuna distribution of the parameter ``name`` (see the module's table)."""
    from optuna import distributions as d

    if isinstance(domain, Categorical):
        if any(isinstance(c, dict) for c in domain.categories) and _has_domain(domain.categories):
            raise ValueError(
                f"OptunaSearch cannot search {name!r}, a choice among spaces (conditional "
                "parameters): use a define-by-run function space(trial) with OptunaSearch, "
                "or HyperOptSearch"
            )
        if by_index(domain):
            return d.CategoricalDistribution(list(range(len(domain.categories))))
        return d.CategoricalDistribution(list(domain.categories))
    if isinstance(domain, Float):
        if domain.sampler is Sampler.NORMAL:
            raise ValueError(
                f"OptunaSearch cannot search {name!r} (tune.randn): Optuna needs a bounded "
                "range; use tune.uniform(lower, upper) instead"
            )
        log = domain.sampler is Sampler.LOG_UNIFORM
        if domain.q is not None and not log:
            low, high = math.ceil(domain.lower / domain.q), math.floor(domain.upper / domain.q)
            return d.IntDistribution(low, high)
        return d.FloatDistribution(domain.lower, domain.upper, log=log)
    if isinstance(domain, Integer):
        log = domain.sampler is Sampler.LOG_UNIFORM
        if domain.q is None:
            return d.IntDistribution(domain.lower, domain.upper - 1, log=log)
        if log:
            return d.IntDistribution(domain.lower, domain.upper, log=True)
        q = int(domain.q)
        low, high = math.ceil(domain.lower / q) * q, (domain.upper // q) * q
        return d.IntDistribution(low, high, step=q)
    raise ValueError(
        f"OptunaSearch cannot search {name!r}: {domain!r} has no Optuna distribution "
        "(use tune.uniform/loguniform/randint/choice)"
    )


def _has_domain(values: list) -> bool:
    return any(isinstance(v, dict) and has_domains(v) for v in values)


def from_optuna(domain: Domain, raw: Any) -> Any:
    """The config value of Optuna's ``raw`` choice for ``domain``."""
    if isinstance(domain, Categorical):
        return domain.categories[raw] if by_index(domain) else raw
    if isinstance(domain, Float):
        if domain.q is None:
            return float(raw)
        if domain.sampler is Sampler.LOG_UNIFORM:
            return float(quantize(raw, domain.q, domain.lower, domain.upper))
        return float(raw * domain.q)
    if isinstance(domain, Integer):
        if domain.q is not None and domain.sampler is Sampler.LOG_UNIFORM:
            return int(quantize(int(raw), domain.q, domain.lower, domain.upper))
        return int(raw)
    return raw


def to_optuna(domain: Domain, value: Any) -> Any:
    """Optuna's value for the config ``value`` of ``domain`` (for points to evaluate)."""
    if isinstance(domain, Categorical):
        return category_index(domain.categories, value) if by_index(domain) else value
    if isinstance(domain, Float) and domain.q is not None and domain.sampler is Sampler.UNIFORM:
        return round(value / domain.q)
    if isinstance(domain, Integer):
        return int(value)
    return float(value)
