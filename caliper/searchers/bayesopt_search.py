"""``BayesOptSearch``: Gaussian-process Bayesian optimisation with the
``bayesian-optimization`` package (Ray Tune's name and arguments)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from caliper.searchers.optuna_space import quantize
from caliper.searchers.searcher import FINISHED, Searcher
from caliper.searchers.space import (
    Path,
    build_config,
    check_metric_mode,
    check_points,
    choose_space,
    objective,
    parameters,
    path_name,
    require,
)
from caliper.tune.search_space import Domain, Float, Sampler

OWNER = "BayesOptSearch"
KINDS = {
    "ucb": "UpperConfidenceBound",
    "ei": "ExpectedImprovement",
    "poi": "ProbabilityOfImprovement",
}
UTILITY_DEFAULTS = {"kind": "ucb", "kappa": 2.576, "xi": 0.0}


def bounds(domains: Sequence[tuple[Path, Domain]]) -> dict[str, tuple[float, float]]:
    """``pbounds`` of the optimiser: a float parameter's range (its logarithm's for a
    log-uniform one). Any other domain is an error naming the parameter."""
    out = {}
    for path, domain in domains:
        name = path_name(path)
        if not isinstance(domain, Float) or domain.sampler is Sampler.NORMAL:
            raise ValueError(
                f"{OWNER} searches float ranges only: {name!r} is {domain!r}. Use tune.uniform "
                "or tune.loguniform (and round in the trainable), or OptunaSearch/HyperOptSearch "
                "for integers and choices"
            )
        if domain.sampler is Sampler.LOG_UNIFORM:
            out[name] = (math.log(domain.lower), math.log(domain.upper))
        else:
            out[name] = (float(domain.lower), float(domain.upper))
    return out


def from_optimizer(domain: Float, raw: float) -> float:
    """The config value of the optimiser's coordinate ``raw``."""
    value = math.exp(raw) if domain.sampler is Sampler.LOG_UNIFORM else float(raw)
    value = min(max(value, domain.lower), domain.upper)
    return float(quantize(value, domain.q, domain.lower, domain.upper)) if domain.q else value


def to_optimizer(domain: Float, value: float) -> float:
    """The optimiser's coordinate of the config value ``value``."""
    return math.log(value) if domain.sampler is Sampler.LOG_UNIFORM else float(value)


def utility(utility_kwargs: Mapping | None) -> dict:
    """``utility_kwargs`` (Ray's ``kind`` ``"ucb"``, ``"ei"`` or ``"poi"`` with ``kappa``
    and ``xi``) checked, with the defaults filled in."""
    kwargs = {**UTILITY_DEFAULTS, **(utility_kwargs or {})}
    unknown = sorted(set(kwargs) - set(UTILITY_DEFAULTS))
    if unknown:
        raise ValueError(
            f"{OWNER}: utility_kwargs has unknown keys {unknown}; it takes kind, kappa and xi "
            "(e.g. {'kind': 'ucb', 'kappa': 2.5, 'xi': 0.0})"
        )
    kind = kwargs["kind"]
    if kind not in KINDS:
        raise ValueError(
            f"{OWNER}: utility_kwargs kind must be one of {sorted(KINDS)}, got {kind!r}"
        )
    for key in ("kappa", "xi"):
        value = kwargs[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise ValueError(f"{OWNER}: utility_kwargs {key} must be a number >= 0, got {value!r}")
    return kwargs


def acquisition(kwargs: Mapping) -> Any:
    """The ``bayes_opt.acquisition`` object of checked :func:`utility` arguments (bayes_opt
    3 replaced ``UtilityFunction(kind, kappa, xi)`` by these classes)."""
    kind = kwargs["kind"]
    module = require("bayes_opt.acquisition", "bayesopt", OWNER)
    cls = getattr(module, KINDS[kind])
    if kind == "ucb":
        return cls(kappa=kwargs["kappa"])
    return cls(xi=kwargs["xi"])  # the optimiser hands it its random state


class BayesOptSearch(Searcher):
    """Bayesian optimisation with a Gaussian process over float parameters (Snoek et al.,
    "Practical Bayesian Optimization of Machine Learning Algorithms", NeurIPS 2012), through
    the ``bayesian-optimization`` package.

    Args:
        space: float domains (``tune.uniform``, ``tune.loguniform``, quantized ones), nested
            dicts allowed (default: the Tuner's ``param_space``).
        metric: the result key to optimise.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs to try first (keys left out are drawn at random).
        utility_kwargs: the acquisition function: ``kind`` (``"ucb"``, upper confidence bound
            with exploration ``kappa``; ``"ei"``, expected improvement; ``"poi"``, probability
            of improvement, both with margin ``xi``).
        random_state: seed of the optimiser and of the random steps.
        random_search_steps: configs drawn at random before the Gaussian process guides.
        verbose: the optimiser's verbosity.
        patience: the search ends after this many duplicate suggestions in a row.
        skip_duplicate: a suggestion equal (to 5 decimals) to one made before is replaced
            by a random config.
    """

    def __init__(
        self,
        space: Mapping | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: Sequence[Mapping] | None = None,
        utility_kwargs: Mapping | None = None,
        random_state: int = 42,
        random_search_steps: int = 10,
        verbose: int = 0,
        patience: int = 5,
        skip_duplicate: bool = True,
    ) -> None:
        super().__init__(metric, mode)
        if space is not None and not isinstance(space, Mapping):
            raise TypeError(f"{OWNER}: space must be a dict, got {type(space).__name__}")
        for name, value, minimum in (
            ("random_search_steps", random_search_steps, 0),
            ("patience", patience, 1),
            ("random_state", random_state, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{OWNER}: {name} must be an int >= {minimum}, got {value!r}")
        self._space = space
        self._points = [dict(p) for p in points_to_evaluate or []]
        self.utility_kwargs = utility(utility_kwargs)
        self.random_state = random_state
        self.random_search_steps = random_search_steps
        self.verbose = verbose
        self.patience = patience
        self.skip_duplicate = bool(skip_duplicate)
        self._domains: list[tuple[Path, Float]] = []
        self._base: dict = {}
        self._optimizer: Any = None
        self._rng = np.random.default_rng(random_state)
        self._pending: list[tuple[dict, dict]] = []
        self._live: dict[str, dict] = {}  # trial id -> the optimiser's coordinates
        self._seen: set[tuple] = set()
        self._suggested = 0
        self._duplicates = 0

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        bayes_opt = require("bayes_opt", "bayesopt", OWNER)
        super().set_search_properties(metric, mode, config)
        check_metric_mode(OWNER, self.metric, self.mode)
        space, base = choose_space(OWNER, self._space, config)
        self._domains = parameters(space, OWNER)
        pbounds = bounds(self._domains)
        self._base = build_config(space, {}) if self._space is None else base
        self._rng = np.random.default_rng(self.random_state)
        self._pending = []  # (the optimiser's coordinates, the point's own values)
        for point in check_points(OWNER, self._points, self._domains):
            coords = self._draw(pbounds)
            for path, value in point.items():
                coords[path_name(path)] = to_optimizer(dict(self._domains)[path], value)
            self._pending.append((coords, point))
        self._optimizer = bayes_opt.BayesianOptimization(
            f=None,
            pbounds=pbounds,
            acquisition_function=acquisition(self.utility_kwargs),
            random_state=self.random_state,
            verbose=self.verbose,
            allow_duplicate_points=True,
        )
        self._live.clear()
        self._seen.clear()
        self._suggested = self._duplicates = 0
        return True

    def _draw(self, pbounds: Mapping[str, tuple[float, float]]) -> dict[str, float]:
        return {name: float(self._rng.uniform(low, high)) for name, (low, high) in pbounds.items()}

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._optimizer is None:
            raise RuntimeError("set_search_properties() must be called before suggest()")
        pbounds = bounds(self._domains)
        exact: dict = {}
        if self._pending:
            coords, exact = self._pending.pop(0)
        elif self._suggested < self.random_search_steps or not len(self._optimizer.space):
            coords = self._draw(pbounds)
        else:
            coords = {k: float(v) for k, v in self._optimizer.suggest().items()}
            key = tuple(round(coords[name], 5) for name in sorted(coords))
            if key in self._seen:
                self._duplicates += 1
                if self._duplicates > self.patience:
                    return FINISHED
                if self.skip_duplicate:
                    coords = self._draw(pbounds)
            else:
                self._duplicates = 0
        self._seen.add(tuple(round(coords[name], 5) for name in sorted(coords)))
        self._suggested += 1
        self._live[trial_id] = coords
        values = {p: from_optimizer(d, coords[path_name(p)]) for p, d in self._domains}
        values.update(exact)  # a point to evaluate's values exactly as given
        return build_config(self._base, values)

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        coords = self._live.pop(trial_id, None)
        value = objective(result, self.metric)
        if coords is None or error or value is None:
            return
        self._optimizer.register(params=coords, target=value if self.mode == "max" else -value)

    @property
    def optimizer(self) -> Any:
        """The ``bayes_opt.BayesianOptimization`` (after the experiment set the search up)."""
        return self._optimizer

    def state_dict(self) -> dict:
        return {
            "optimizer": self._optimizer,
            "rng": self._rng.bit_generator.state,
            "pending": list(self._pending),
            "live": dict(self._live),
            "seen": set(self._seen),
            "suggested": self._suggested,
            "duplicates": self._duplicates,
        }

    def load_state_dict(self, state: Mapping) -> None:
        self._optimizer = state["optimizer"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._pending = list(state["pending"])
        self._live = dict(state["live"])
        self._seen = set(state["seen"])
        self._suggested = state["suggested"]
        self._duplicates = state["duplicates"]
