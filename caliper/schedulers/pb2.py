"""Population Based Bandits (PB2): PBT whose explore step is chosen by a time-varying GP
bandit instead of random perturbations (Parker-Holder et al., NeurIPS 2020), with Ray Tune's
name and arguments. The GP maths is in :mod:`caliper.schedulers.pb2_gp`; numpy is all it
needs.

Mapping to the paper: ``hyperparam_bounds`` is the box the bandit searches; each perturbation
time adds one observation per trial, the change of its score since the last one; the exploited
trial gets the configuration of highest UCB at the current time, given the configurations the
other trials are running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from caliper.schedulers.pb2_gp import select
from caliper.schedulers.pbt import PopulationBasedTraining, _Member
from caliper.tune import search_space

_MAX_POINTS = 300  # the newest observations the GP is fitted on (the kernel forgets older ones)


def _check_bounds(bounds: Mapping) -> dict[str, tuple[float, float]]:
    if not isinstance(bounds, Mapping) or not bounds:
        raise ValueError("PB2 needs hyperparam_bounds, e.g. hyperparam_bounds={'lr': [1e-4, 1e-1]}")
    checked = {}
    for key, pair in bounds.items():
        ok = isinstance(pair, list | tuple) and len(pair) == 2
        if ok:
            ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        if not ok or not pair[0] < pair[1]:
            raise ValueError(
                f"hyperparam_bounds[{key!r}] must be [lower, upper] with lower < upper, "
                f"got {pair!r}"
            )
        checked[key] = (pair[0], pair[1])
    return checked


class PB2(PopulationBasedTraining):
    """Population Based Bandits (see the module docstring).

    Args:
        time_attr, metric, mode, perturbation_interval, quantile_fraction, log_config,
            require_attrs, synch, custom_explore_fn, seed: as for
            :class:`~caliper.schedulers.PopulationBasedTraining`.
        hyperparam_bounds: ``{key: [lower, upper]}`` of the continuous hyperparameters to
            explore (integers when both bounds are ints).
    """

    def __init__(
        self,
        time_attr: str = "time_total_s",
        metric: str | None = None,
        mode: str | None = None,
        perturbation_interval: float = 60.0,
        hyperparam_bounds: Mapping | None = None,
        quantile_fraction: float = 0.25,
        log_config: bool = True,
        require_attrs: bool = True,
        synch: bool = False,
        custom_explore_fn: Callable[[dict], dict] | None = None,
        seed: int | None = None,
    ) -> None:
        self.hyperparam_bounds = _check_bounds(hyperparam_bounds)
        domains = {
            key: search_space.randint(lo, hi + 1)
            if isinstance(lo, int) and isinstance(hi, int)
            else search_space.uniform(lo, hi)
            for key, (lo, hi) in self.hyperparam_bounds.items()
        }
        super().__init__(
            time_attr=time_attr,
            metric=metric,
            mode=mode,
            perturbation_interval=perturbation_interval,
            hyperparam_mutations=domains,
            quantile_fraction=quantile_fraction,
            resample_probability=0.0,
            custom_explore_fn=custom_explore_fn,
            log_config=log_config,
            require_attrs=require_attrs,
            synch=synch,
            seed=seed,
        )
        self._data_x: list[list[float]] = []  # [time in intervals, x in [0, 1]...]
        self._data_y: list[float] = []  # score change since the trial's last perturbation

    def _unit(self, config: Mapping) -> list[float]:
        return [
            (float(config[key]) - lo) / (hi - lo)
            for key, (lo, hi) in self.hyperparam_bounds.items()
        ]

    def _observe(self, trial_id: str, member: _Member, now: float, score: float) -> None:
        if member.score is None:
            return  # the first score: no change to learn from yet
        self._data_x.append([now / self.perturbation_interval, *self._unit(member.config)])
        self._data_y.append(score - member.score)
        del self._data_x[:-_MAX_POINTS], self._data_y[:-_MAX_POINTS]

    def _new_config(self, trial_id: str, source: _Member) -> dict:
        now = source.last_perturbation_time / self.perturbation_interval
        pending = [
            [now, *self._unit(m.config)]
            for tid, m in self._members.items()
            if m.live and tid != trial_id
        ]
        width = len(self.hyperparam_bounds) + 1
        unit = select(
            np.array(self._data_x, dtype=float).reshape(-1, width),
            np.array(self._data_y, dtype=float),
            now,
            np.array(pending, dtype=float).reshape(-1, width),
            self._rng,
        )
        config = dict(source.config)
        for (key, (lo, hi)), u in zip(self.hyperparam_bounds.items(), unit, strict=True):
            value = lo + float(u) * (hi - lo)
            config[key] = round(value) if isinstance(lo, int) and isinstance(hi, int) else value
        if self.custom_explore_fn is not None:
            config = self.custom_explore_fn(config)
        return config

    def state_dict(self) -> dict:
        return {**super().state_dict(), "data_x": list(self._data_x), "data_y": list(self._data_y)}

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self._data_x, self._data_y = list(state["data_x"]), list(state["data_y"])
