"""``HyperOptSearch``: configs from HyperOpt's TPE, asked one trial at a time from its
``Trials`` store and told each outcome (Ray Tune's name and arguments)."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from caliper.searchers import hyperopt_space
from caliper.searchers.searcher import Searcher
from caliper.searchers.space import (
    build_config,
    check_metric_mode,
    check_points,
    choose_space,
    flatten_point,
    has_domains,
    objective,
    parameters,
    require,
    seed_of,
)
from caliper.tune.search_space import Domain

OWNER = "HyperOptSearch"


def _identity(config: Any) -> Any:
    """HyperOpt's objective slot: never called (results come from the trials)."""
    return config


class HyperOptSearch(Searcher):
    """Tree-structured Parzen Estimator search with HyperOpt (Bergstra et al., "Algorithms
    for Hyper-Parameter Optimization", NeurIPS 2011).

    The space is a dict of caliper domains (a ``tune.choice`` among dicts holding domains is
    a conditional sub-space; see :mod:`caliper.searchers.hyperopt_space`) or a native
    HyperOpt space of ``hp.*`` expressions, never both.

    A trial handed out stays in the ``Trials`` store as ``JOB_STATE_RUNNING`` until it is
    told complete. HyperOpt's TPE counts such a trial with an infinite loss, among the bad
    trials: when trials run in parallel it is its own constant liar, and configs near those
    still running become less likely (as in ``fmin`` with a parallel ``Trials`` store).
    Running trials also count towards ``n_initial_points``.

    Args:
        space: the search space (default: the Tuner's ``param_space``).
        metric: the result key to optimise.
        mode: ``"min"`` or ``"max"``.
        points_to_evaluate: configs to try first (keys left out are drawn at random); for a
            native space, HyperOpt's own form: label -> value, a choice's index as its value.
        n_initial_points: random configs before TPE takes over (``n_startup_jobs``).
        random_state_seed: seed of every draw; the same seed gives the same search when
            trials run one at a time.
        gamma: the fraction of the best trials TPE models as "good" (its gamma), in (0, 1).
    """

    def __init__(
        self,
        space: Mapping | None = None,
        metric: str | None = None,
        mode: str | None = None,
        points_to_evaluate: Sequence[Mapping] | None = None,
        n_initial_points: int = 20,
        random_state_seed: int | None = None,
        gamma: float = 0.25,
    ) -> None:
        super().__init__(metric, mode)
        if space is not None and not isinstance(space, Mapping):
            raise TypeError(f"{OWNER}: space must be a dict, got {type(space).__name__}")
        if space is not None and hyperopt_space.is_native(space) and has_domains(space):
            raise ValueError(
                f"{OWNER}: the space mixes HyperOpt expressions (hp.*) with caliper domains; "
                "use one kind (caliper domains are converted for you)"
            )
        if isinstance(n_initial_points, bool) or not isinstance(n_initial_points, int):
            raise TypeError(f"{OWNER}: n_initial_points must be an int, got {n_initial_points!r}")
        if n_initial_points < 0:
            raise ValueError(f"{OWNER}: n_initial_points must be >= 0, got {n_initial_points}")
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not 0 < gamma < 1:
            raise ValueError(f"{OWNER}: gamma must be a number in (0, 1), got {gamma!r}")
        if points_to_evaluate is not None and not isinstance(points_to_evaluate, Sequence):
            raise TypeError(f"{OWNER}: points_to_evaluate must be a list of dicts")
        self._space = space
        self._points = [dict(p) for p in points_to_evaluate or []]
        self.n_initial_points = n_initial_points
        self.seed = seed_of(OWNER, random_state_seed, "random_state_seed")
        self.gamma = float(gamma)
        self._template: dict = {}
        self._domain: Any = None
        self._trials: Any = None
        self._rng = np.random.default_rng(self.seed)
        self._pending: list[dict] = []  # vals of points to evaluate not handed out yet
        self._live: dict[str, int] = {}  # trial id -> HyperOpt tid

    # -- setting up --------------------------------------------------------------------------

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        hpo = require("hyperopt", "hyperopt", OWNER)
        super().set_search_properties(metric, mode, config)
        check_metric_mode(OWNER, self.metric, self.mode)
        space, base = choose_space(OWNER, self._space, config)
        self._template = base or {k: v for k, v in space.items() if not isinstance(v, Domain)}
        self._rng = np.random.default_rng(self.seed)
        if hyperopt_space.is_native(space):
            if has_domains(space):
                raise ValueError(
                    f"{OWNER}: the space mixes HyperOpt expressions (hp.*) with caliper domains; "
                    "use one kind"
                )
            self._domain = hpo.Domain(_identity, space)
            labels = set(self._domain.params)
            for i, point in enumerate(self._points):
                unknown = sorted(set(point) - labels)
                if unknown:
                    raise ValueError(
                        f"{OWNER}: points_to_evaluate[{i}] sets {unknown[0]!r}, which is not a "
                        f"label of the search space (its labels: {sorted(labels)})"
                    )
            self._pending = [dict(p) for p in self._points]
        else:
            domains = parameters(space, OWNER)
            points = check_points(OWNER, self._points, domains)
            self._domain = hpo.Domain(_identity, hyperopt_space.to_hyperopt(space))
            self._pending = [
                hyperopt_space.to_vals(space, build_config({}, p), self._rng) for p in points
            ]
        self._trials = hpo.Trials()
        self._live.clear()
        return True

    @functools.cached_property
    def _algo(self) -> Any:
        from hyperopt import tpe

        return functools.partial(
            tpe.suggest, n_startup_jobs=self.n_initial_points, gamma=self.gamma, verbose=False
        )

    # -- the search --------------------------------------------------------------------------

    def suggest(self, trial_id: str) -> dict | None:
        from hyperopt import base as hpo_base

        if self._trials is None:
            raise RuntimeError("set_search_properties() must be called before suggest()")
        trials = self._trials
        tid = trials.new_trial_ids(1)[0]
        if self._pending:
            doc = self._point_doc(tid, self._pending.pop(0))
        else:
            trials.refresh()
            seed = int(self._rng.integers(2**31 - 1))
            doc = self._algo([tid], self._domain, trials, seed)[0]
        doc["state"] = hpo_base.JOB_STATE_RUNNING
        trials.insert_trial_docs([doc])
        trials.refresh()
        self._live[trial_id] = tid
        suggested = self._evaluate(doc)
        if not isinstance(suggested, Mapping):  # a native space of one expression
            return suggested
        return build_config(self._template, flatten_point(suggested))  # in the space's order

    def _point_doc(self, tid: int, vals: Mapping) -> dict:
        misc = {
            "tid": tid,
            "cmd": self._domain.cmd,
            "workdir": self._domain.workdir,
            "idxs": {label: [tid] if label in vals else [] for label in self._domain.params},
            "vals": {
                label: [vals[label]] if label in vals else [] for label in self._domain.params
            },
        }
        return self._trials.new_trial_docs([tid], [None], [self._domain.new_result()], [misc])[0]

    def _evaluate(self, doc: Mapping) -> dict:
        import hyperopt as hpo

        spec = hpo.base.spec_from_misc(doc["misc"])
        ctrl = hpo.base.Ctrl(self._trials, current_trial=doc)
        memo = self._domain.memo_from_config(spec)
        hpo.utils.use_obj_for_literal_in_memo(self._domain.expr, ctrl, hpo.base.Ctrl, memo)
        return hpo.pyll.rec_eval(self._domain.expr, memo=memo)

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        import hyperopt as hpo

        tid = self._live.pop(trial_id, None)
        if tid is None:
            return
        doc = next(d for d in self._trials.trials if d["tid"] == tid)
        value = objective(result, self.metric)
        if error or value is None:
            doc["state"] = hpo.base.JOB_STATE_ERROR
            doc["result"] = {"status": hpo.STATUS_FAIL}
            doc["misc"]["error"] = ("TrialError", "the trial failed or reported no metric")
        else:
            doc["state"] = hpo.base.JOB_STATE_DONE
            loss = value if self.mode == "min" else -value
            doc["result"] = {"loss": loss, "status": hpo.STATUS_OK}
        self._trials.refresh()

    @property
    def trials(self) -> Any:
        """HyperOpt's ``Trials`` store (after the experiment set the search up)."""
        return self._trials

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "trials": self._trials,
            "rng": self._rng.bit_generator.state,
            "pending": list(self._pending),
            "live": dict(self._live),
        }

    def load_state_dict(self, state: Mapping) -> None:
        self._trials = state["trials"]
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = state["rng"]
        self._pending = list(state["pending"])
        self._live = dict(state["live"])
