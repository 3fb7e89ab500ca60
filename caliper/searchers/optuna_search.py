"""``OptunaSearch``: configs from an Optuna study through its ask/tell interface (Ray Tune's
name and arguments)."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from caliper.searchers import optuna_space
from caliper.searchers.searcher import Searcher
from caliper.searchers.space import (
    SEP,
    build_config,
    check_metric_mode,
    check_points,
    choose_space,
    flatten_point,
    has_domains,
    objective,
    parameters,
    path_name,
    require,
    seed_of,
)
from caliper.tune.search_properties import MODES

OWNER = "OptunaSearch"


def _objectives(metric: object, mode: object) -> tuple[list[str] | None, list[str] | None]:
    """``metric``/``mode`` as lists (one entry per objective), checked."""
    if isinstance(metric, list | tuple) or isinstance(mode, list | tuple):
        if not isinstance(metric, list | tuple) or not isinstance(mode, list | tuple):
            raise ValueError(
                f"{OWNER}: for several objectives give metric and mode as lists of the same "
                f"length (e.g. metric=['loss', 'latency'], mode=['min', 'min']), got "
                f"metric={metric!r}, mode={mode!r}"
            )
        if len(metric) != len(mode) or not metric:
            raise ValueError(
                f"{OWNER}: metric and mode must be lists of the same length, got "
                f"{len(metric)} metrics and {len(mode)} modes"
            )
    metrics = (
        None if metric is None else list(metric) if isinstance(metric, list | tuple) else [metric]
    )
    modes = None if mode is None else list(mode) if isinstance(mode, list | tuple) else [mode]
    for m in metrics or []:
        if not isinstance(m, str):
            raise TypeError(f"{OWNER}: metric must be a str or a list of str, got {m!r}")
    for m in modes or []:
        if m not in MODES:
            raise ValueError(f"{OWNER}: mode must be 'min' or 'max' (or a list of them), got {m!r}")
    return metrics, modes


def _is_distribution(value: object) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("optuna.distributions")


def unflatten(flat: Mapping[str, Any]) -> dict:
    """``{"a/b": 1}`` -> ``{"a": {"b": 1}}`` (names of define-by-run parameters)."""
    return build_config({}, {tuple(name.split(SEP)): value for name, value in flat.items()})


def default_sampler(optuna: Any, seed: int | None, objectives: int = 1) -> Any:
    """The sampler of a study given none: TPE, multivariate for one objective (Optuna's own
    choice since 5.0), with the constant liar for trials running in parallel (Optuna's default
    since 5.0; set here for older versions too, where both are marked experimental)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=objectives == 1, constant_liar=True
        )


class OptunaSearch(Searcher):
    """Search with an Optuna sampler (TPE by default), asking its study for each config and
    telling it each trial's outcome.

    The space is a dict of caliper domains (nested dicts are searched as ``"a/b"``
    parameters; see :mod:`caliper.searchers.optuna_space` for each domain's distribution), a
    dict of Optuna distributions, or a define-by-run function ``space(trial)`` that calls
    ``trial.suggest_*`` (conditional spaces) and may return a dict of constants to add. Trials
    a scheduler stops early are told with their last value; failed trials as failed. Each
    result's metric is reported to the trial as an intermediate value (single objective).

    With no ``sampler`` given, the study samples with
    ``TPESampler(seed=seed, multivariate=True, constant_liar=True)`` (``multivariate=False``
    for several objectives), whatever the installed Optuna's defaults: the multivariate TPE
    models the parameters jointly, and the constant liar counts the trials still running as
    bad outcomes, so that trials run in parallel are not suggested on top of each other (Optuna's
    strategy for parallel search). With one trial at a time nothing is running when a trial is
    asked for, so the liar changes nothing: the search is the same as ``study.optimize``'s with
    that sampler and seed. A sampler you give is used as it is.

    Args:
        space: the search space (default: the Tuner's ``param_space``).
        metric: the result key to optimise, or a list of keys for several objectives.
        mode: ``"min"``/``"max"``, or a list of them, one per metric.
        points_to_evaluate: configs (possibly partial) to try first, in order.
        sampler: any ``optuna.samplers.BaseSampler`` (TPE, GP, CMA-ES, NSGA-II, ...), used
            as it is.
        study_name, storage: passed to ``optuna.create_study`` (e.g.
            ``storage="sqlite:///optuna.db"`` to watch the study with optuna-dashboard; an
            existing study of that name is continued).
        seed: seed of the default ``TPESampler`` (seed a sampler you give yourself).
        evaluated_rewards: the known results of ``points_to_evaluate``: they are told to the
            study instead of being run.
    """

    def __init__(
        self,
        space: Mapping | Callable | None = None,
        metric: str | list[str] | None = None,
        mode: str | list[str] | None = None,
        points_to_evaluate: Sequence[Mapping] | None = None,
        sampler: Any = None,
        study_name: str | None = None,
        storage: Any = None,
        seed: int | None = None,
        evaluated_rewards: Sequence[Any] | None = None,
    ) -> None:
        super().__init__()
        self._metrics, self._modes = _objectives(metric, mode)
        self.metric, self.mode = metric, mode
        if space is not None and not (isinstance(space, Mapping) or callable(space)):
            raise TypeError(
                f"{OWNER}: space must be a dict or a function space(trial), got "
                f"{type(space).__name__}"
            )
        if isinstance(space, Mapping):
            native = [k for k, v in space.items() if _is_distribution(v)]
            if native and has_domains(space):
                raise ValueError(
                    f"{OWNER}: the space mixes Optuna distributions ({native[0]!r}) with caliper "
                    "domains; use one kind (caliper domains are converted for you)"
                )
        if points_to_evaluate is not None and not isinstance(points_to_evaluate, Sequence):
            raise TypeError(f"{OWNER}: points_to_evaluate must be a list of dicts")
        if evaluated_rewards is not None:
            if not points_to_evaluate or len(evaluated_rewards) != len(points_to_evaluate):
                raise ValueError(
                    f"{OWNER}: evaluated_rewards needs one reward per entry of "
                    f"points_to_evaluate, got {len(evaluated_rewards)} rewards for "
                    f"{len(points_to_evaluate or [])} points"
                )
            if callable(space) and not isinstance(space, Mapping):
                raise ValueError(
                    f"{OWNER}: evaluated_rewards needs a dict space (a define-by-run function "
                    "has no distributions before it runs)"
                )
        if sampler is not None and seed is not None:
            raise ValueError(
                f"{OWNER}: seed seeds the default TPESampler; seed the sampler you give "
                "instead (e.g. TPESampler(seed=0))"
            )
        self.seed = seed_of(OWNER, seed)
        self._space = space
        self._points = [dict(p) for p in points_to_evaluate or []]
        self._rewards = list(evaluated_rewards) if evaluated_rewards is not None else None
        self._sampler = sampler
        self._study_name, self._storage = study_name, storage
        self._params: list[tuple[str, tuple, Any, Any]] = []  # name, path, domain, distribution
        self._base: dict = {}
        self._study: Any = None
        self._live: dict[str, Any] = {}  # trial id -> optuna Trial
        self._steps: dict[str, int] = {}  # trial id -> last step reported

    # -- setting up --------------------------------------------------------------------------

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        optuna = require("optuna", "optuna", OWNER)
        super().set_search_properties(metric, mode, config)
        self._metrics, self._modes = _objectives(self.metric, self.mode)
        check_metric_mode(OWNER, self.metric, self.mode)
        space, self._base = choose_space(OWNER, self._space, config)
        flat_points: list[dict] = []
        if isinstance(space, Mapping) and any(_is_distribution(v) for v in space.values()):
            self._params = [(name, tuple(name.split(SEP)), None, d) for name, d in space.items()]
            names = set(space)
            for i, point in enumerate(self._points):
                unknown = sorted(set(point) - names)
                if unknown:
                    raise ValueError(
                        f"{OWNER}: points_to_evaluate[{i}] sets {unknown[0]!r}, which is not a "
                        f"parameter of the search space (its parameters: {sorted(names)})"
                    )
                flat_points.append(dict(point))
        elif isinstance(space, Mapping):
            hint = ", or a define-by-run function space(trial) for conditional values"
            domains = parameters(space, OWNER, hint=hint)
            self._base = build_config(space, {}) if self._space is None else self._base
            self._params = [
                (path_name(p), p, d, optuna_space.distribution(d, path_name(p))) for p, d in domains
            ]
            by_path = {p: (name, d) for name, p, d, _ in self._params}
            for point in check_points(OWNER, self._points, domains):
                flat_points.append(
                    {
                        by_path[p][0]: optuna_space.to_optuna(by_path[p][1], v)
                        for p, v in point.items()
                    }
                )
        else:  # define-by-run: the names are known once it runs
            self._params = []
            flat_points = [
                {path_name(p): v for p, v in flatten_point(point).items()} for point in self._points
            ]
        sampler = self._sampler
        if sampler is None:
            sampler = default_sampler(optuna, self.seed, objectives=len(self._modes))
        directions = ["minimize" if m == "min" else "maximize" for m in self._modes]
        self._study = optuna.create_study(
            directions=directions,
            sampler=sampler,
            study_name=self._study_name,
            storage=self._storage,
            load_if_exists=self._storage is not None,
        )
        distributions = {name: d for name, _, _, d in self._params}
        for i, params in enumerate(flat_points):
            if self._rewards is None:
                self._study.enqueue_trial(params)
                continue
            missing = sorted(set(distributions) - set(params))
            if missing:
                raise ValueError(
                    f"{OWNER}: points_to_evaluate[{i}] has a reward in evaluated_rewards, so "
                    f"it must set every parameter; it leaves out {missing}"
                )
            reward = self._rewards[i]
            values = list(reward) if isinstance(reward, Sequence) else [reward]
            if len(values) != len(self._metrics) or not all(
                isinstance(v, numbers.Real) for v in values
            ):
                raise ValueError(
                    f"{OWNER}: evaluated_rewards[{i}] must be {len(self._metrics)} number(s), "
                    f"one per metric, got {reward!r}"
                )
            self._study.add_trial(
                optuna.trial.create_trial(
                    params=params, distributions=distributions, values=[float(v) for v in values]
                )
            )
        self._live.clear()
        self._steps.clear()
        return True

    # -- the search --------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict | None:
        if self._study is None:
            raise RuntimeError("set_search_properties() must be called before suggest()")
        if self._params:
            trial = self._study.ask({name: d for name, _, _, d in self._params})
            values = {
                path: raw if domain is None else optuna_space.from_optuna(domain, raw)
                for (name, path, domain, _), raw in (
                    (param, trial.params[param[0]]) for param in self._params
                )
            }
            config = build_config(self._base, values)
        else:
            trial = self._study.ask()
            constants = self._space(trial)
            if constants is not None and not isinstance(constants, Mapping):
                raise TypeError(
                    f"{OWNER}: the define-by-run space function must return None or a dict of "
                    f"constants, got {type(constants).__name__}"
                )
            config = build_config(self._base, flatten_point(unflatten(trial.params)))
            config = build_config(config, flatten_point(dict(constants or {})))
        self._live[trial_id] = trial
        return config

    def on_trial_result(self, trial_id: str, result: Mapping) -> None:
        trial = self._live.get(trial_id)
        if trial is None or len(self._metrics) != 1:
            return
        value = objective(result, self._metrics[0])
        step = result.get("training_iteration")
        if value is None or not isinstance(step, int) or step <= self._steps.get(trial_id, 0):
            return
        self._steps[trial_id] = step
        trial.report(value, step)

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        from optuna.trial import TrialState

        trial = self._live.pop(trial_id, None)
        self._steps.pop(trial_id, None)
        if trial is None:
            return
        values = [objective(result, m) for m in self._metrics]
        if error or any(v is None for v in values):
            self._study.tell(trial, state=TrialState.FAIL)
        else:
            self._study.tell(trial, values if len(values) > 1 else values[0])

    @property
    def study(self) -> Any:
        """The Optuna study (after the experiment set the search up)."""
        return self._study

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"study": self._study, "live": dict(self._live), "steps": dict(self._steps)}

    def load_state_dict(self, state: Mapping) -> None:
        self._study = state["study"]
        self._live = dict(state["live"])
        self._steps = dict(state["steps"])
