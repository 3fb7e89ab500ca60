"""Population Based Training's maths as pure functions: who is in the top and bottom quantile,
how a config is explored, and how a logged policy is read back for a replay.

Jaderberg et al., "Population Based Training of Neural Networks", 2017: *exploit* copies the
weights and hyperparameters of a better member (truncation selection: a member of the bottom
quantile copies a random member of the top quantile); *explore* perturbs the copied
hyperparameters (multiply by a factor, or resample from the prior with some probability).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from caliper.tune.search_space import Domain, Float, Integer, _quantize


def quantiles(scores: Mapping[str, float], fraction: float) -> tuple[list[str], list[str]]:
    """The bottom and top quantile of trials by score (higher is better; NaN is the worst).

    ``ceil(n * fraction)`` trials each, at most half of them, none when fewer than two trials
    have a score. Ties keep the order of ``scores``.
    """
    if len(scores) <= 1:
        return [], []
    ranked = sorted(scores, key=lambda t: -math.inf if math.isnan(scores[t]) else scores[t])
    size = min(math.ceil(len(ranked) * fraction), len(ranked) // 2)
    if size == 0:
        return [], []
    return ranked[:size], ranked[-size:]


def _clamp(value: float, domain: Domain) -> float:
    """Keep a perturbed value inside a bounded numeric domain (and on its grid)."""
    lower, upper = getattr(domain, "lower", None), getattr(domain, "upper", None)
    if lower is None or upper is None:
        return value
    q = getattr(domain, "q", None)
    if isinstance(domain, Integer):
        high = upper if q is not None else upper - 1  # [lower, upper) unless quantized
        value = round(min(max(value, lower), high))
        return int(_quantize(value, q, lower, upper)) if q is not None else value
    value = min(max(value, lower), upper)
    return float(_quantize(value, q, lower, upper)) if q is not None else value


def _perturb(value: object, factors: Sequence[float], rng: np.random.Generator) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"PopulationBasedTraining can only perturb numbers, got {value!r}; give the "
            "mutation as a list of values or set resample_probability=1"
        )
    factor = factors[int(rng.integers(len(factors)))]
    return int(value * factor) if isinstance(value, int) else value * factor


def explore(
    config: Mapping,
    mutations: Mapping,
    resample_probability: float,
    perturbation_factors: Sequence[float],
    rng: np.random.Generator,
    custom_explore_fn: Callable[[dict], dict] | None = None,
) -> dict:
    """A new config from ``config``: each key of ``mutations`` is resampled with
    ``resample_probability``, else perturbed.

    A mutation is a list/tuple (perturbing moves to a neighbouring entry; a value not in the
    list is resampled), a search-space domain (perturbing multiplies by a random factor of
    ``perturbation_factors``, kept inside the domain's bounds), a callable returning a sample
    (perturbing multiplies), or a dict of these for a nested config. ``custom_explore_fn`` gets
    the new config last and returns the final one.
    """
    new = copy.deepcopy(dict(config))
    _explore_into(new, config, mutations, resample_probability, perturbation_factors, rng)
    if custom_explore_fn is not None:
        new = custom_explore_fn(new)
        if not isinstance(new, dict):
            raise TypeError(
                f"custom_explore_fn must return the config as a dict, got {type(new).__name__}"
            )
    return new


def _explore_into(new, config, mutations, probability, factors, rng) -> None:
    for key, mutation in mutations.items():
        value = config[key]
        if isinstance(mutation, Mapping):
            _explore_into(new[key], value, mutation, probability, factors, rng)
            continue
        resample = rng.random() < probability
        if isinstance(mutation, list | tuple):
            if resample or value not in mutation:
                new[key] = mutation[int(rng.integers(len(mutation)))]
            else:
                index = list(mutation).index(value) + (1 if rng.random() < 0.5 else -1)
                new[key] = mutation[min(max(index, 0), len(mutation) - 1)]
        elif isinstance(mutation, Domain):
            if resample:
                new[key] = mutation.sample(rng)
            else:
                perturbed = _perturb(value, factors, rng)
                is_numeric = isinstance(mutation, Float | Integer)
                new[key] = _clamp(perturbed, mutation) if is_numeric else perturbed
        else:  # a callable returning a sample
            new[key] = mutation() if resample else _perturb(value, factors, rng)


def check_mutations(mutations: Mapping, config: Mapping, path: str = "") -> None:
    """Each key of ``hyperparam_mutations`` must be in the config (nested keys too)."""
    for key, mutation in mutations.items():
        name = f"{path}{key}"
        if not isinstance(config, Mapping) or key not in config:
            raise ValueError(
                f"PopulationBasedTraining: hyperparam_mutations names {name!r}, which is not in "
                f"the config (keys: {sorted(config) if isinstance(config, Mapping) else []}); "
                f"add it to param_space, e.g. param_space={{{key!r}: tune.uniform(...)}}"
            )
        if isinstance(mutation, Mapping):
            check_mutations(mutation, config[key], f"{name}/")


def check_mutation_types(mutations: Mapping, path: str = "") -> None:
    """A mutation is a list, tuple, domain, callable or a dict of these."""
    for key, mutation in mutations.items():
        if isinstance(mutation, Mapping):
            check_mutation_types(mutation, f"{path}{key}/")
        elif isinstance(mutation, list | tuple):
            if not mutation:
                raise ValueError(f"hyperparam_mutations[{path}{key!r}] is an empty list")
        elif not (isinstance(mutation, Domain) or callable(mutation)):
            raise TypeError(
                f"hyperparam_mutations[{path}{key!r}] must be a list of values, a search-space "
                f"domain (e.g. tune.uniform(0.1, 1.0)), a callable or a dict of these; got "
                f"{type(mutation).__name__} {mutation!r}"
            )


def perturbed_values(config: Mapping, mutations: Mapping, path: str = "") -> list[str]:
    """``key=value`` for each mutated hyperparameter, for the ``@perturbed[...]`` tag."""
    parts = []
    for key, mutation in mutations.items():
        if isinstance(mutation, Mapping):
            parts += perturbed_values(config[key], mutation, f"{path}{key}/")
        else:
            value = config[key]
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            parts.append(f"{path}{key}={shown}")
    return parts


def policy_record(
    trial_tag: str,
    source_tag: str,
    trial_iteration: int,
    source_iteration: int,
    source_config: Mapping,
    new_config: Mapping,
) -> list:
    """One line of ``pbt_global.txt`` / ``pbt_policy_<trial>.txt``: the exploited trial's tag,
    the source's tag, both iterations, the source's config and the explored one."""
    return [
        trial_tag,
        source_tag,
        trial_iteration,
        source_iteration,
        dict(source_config),
        dict(new_config),
    ]


def replay_schedule(lines: Sequence[str]) -> tuple[dict, list[tuple[int, dict]]]:
    """A trial's schedule from its ``pbt_policy_<trial>.txt`` lines: the config it started
    with and ``(iteration, config)`` changes.

    A policy file holds the trial's own exploits after those of the trials it copied; walking
    back from the last record along the chain of source tags gives the lineage that produced
    the trial's final state.
    """
    records = [json.loads(line) for line in lines if line.strip()]
    if not records:
        raise ValueError("the PBT policy file holds no records")
    chain: list[tuple[int, dict]] = []
    expected_tag = None
    initial: dict = {}
    for trial_tag, source_tag, _, source_iteration, source_config, new_config in reversed(records):
        if expected_tag is not None and trial_tag != expected_tag:
            break  # an older lineage, overwritten by a later exploit
        expected_tag = source_tag
        initial = source_config
        chain.append((int(source_iteration), new_config))
    chain.reverse()
    return dict(initial), chain
