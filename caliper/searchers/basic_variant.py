"""``BasicVariantGenerator``: grid and random search, Ray Tune's default search algorithm."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from caliper.searchers.searcher import FINISHED, Searcher
from caliper.tune.variants import count_variants, generate_variants


def _check_point(point: object, space: Mapping, index: int) -> None:
    """A point to evaluate may only name keys the search space has."""
    if not isinstance(point, Mapping):
        raise TypeError(f"points_to_evaluate[{index}] must be a dict, got {point!r}")

    def walk(part: Mapping, template: object, where: str) -> None:
        for key, value in part.items():
            if not isinstance(template, Mapping) or key not in template:
                raise ValueError(
                    f"points_to_evaluate[{index}] sets {where}{key!r}, which is not in the "
                    "search space"
                )
            if isinstance(value, Mapping) and isinstance(template[key], Mapping):
                walk(value, template[key], f"{where}{key}.")

    walk(point, space, "")


def _merge(space: Mapping, point: Mapping) -> dict:
    merged = dict(space)
    for key, value in point.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class BasicVariantGenerator(Searcher):
    """Grid search crossed with random sampling, as Ray Tune's default.

    Each of ``points_to_evaluate`` runs first (crossed with any grid axis it leaves open) and
    takes the place of one of ``num_samples``; the remaining samples each repeat the whole grid
    with fresh random draws.

    Args:
        points_to_evaluate: partial configs to try first; keys must exist in the space.
        max_concurrent: at most this many suggested trials unfinished at once (0: no limit).
        constant_grid_search: accepted for Ray's sake; random values are drawn anew per config.
        random_state: an int seed or a ``numpy.random.Generator``; same seed, same configs.
    """

    def __init__(
        self,
        points_to_evaluate: Sequence[Mapping] | None = None,
        max_concurrent: int = 0,
        constant_grid_search: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise TypeError(f"max_concurrent must be an int, got {max_concurrent!r}")
        if max_concurrent < 0:
            raise ValueError(f"max_concurrent must be >= 0 (0: no limit), got {max_concurrent}")
        if isinstance(random_state, np.random.Generator):
            seed = int(random_state.integers(2**63))
        elif random_state is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)
        elif isinstance(random_state, int) and not isinstance(random_state, bool):
            seed = random_state
        else:
            raise TypeError(
                f"random_state must be an int, a numpy Generator or None, got {random_state!r}"
            )
        self.points = [dict(p) for p in (points_to_evaluate or [])]
        self.max_concurrent = max_concurrent
        self.constant_grid_search = constant_grid_search
        self.seed = seed
        self.space: dict | None = None
        self.num_samples = 1
        self.handed_out = 0
        self.live: set[str] = set()
        self._iterator: Iterator[dict] | None = None

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: Mapping, **spec
    ) -> bool:
        super().set_search_properties(metric, mode, config)
        if not isinstance(config, Mapping):
            raise TypeError(f"param_space must be a dict, got {type(config).__name__}")
        num_samples = spec.get("num_samples", 1)
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be an int >= 1, got {num_samples!r}")
        for i, point in enumerate(self.points):
            _check_point(point, config, i)
        self.space = dict(config)
        self.num_samples = num_samples
        self._iterator = None
        return True

    @property
    def total(self) -> int:
        """How many configs the search yields in all."""
        if self.space is None:
            return 0
        repeats = max(0, self.num_samples - len(self.points))
        firsts = sum(count_variants(_merge(self.space, p), 1) for p in self.points)
        return firsts + (count_variants(self.space, repeats) if repeats else 0)

    def _configs(self) -> Iterator[dict]:
        rng = np.random.default_rng(self.seed)
        for point in self.points[: self.num_samples]:
            yield from generate_variants(_merge(self.space, point), 1, rng)
        repeats = self.num_samples - len(self.points)
        if repeats > 0:
            yield from generate_variants(self.space, repeats, rng)

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.space is None:
            raise RuntimeError("set_search_properties() must be called before suggest()")
        if self.max_concurrent and len(self.live) >= self.max_concurrent:
            return None
        if self._iterator is None:
            self._iterator = self._configs()
            for _ in range(self.handed_out):  # after a restore: skip what was handed out
                next(self._iterator)
        config = next(self._iterator, None)
        if config is None:
            return FINISHED
        self.handed_out += 1
        self.live.add(trial_id)
        return config

    def on_trial_complete(
        self, trial_id: str, result: Mapping | None = None, error: bool = False
    ) -> None:
        self.live.discard(trial_id)

    def state_dict(self) -> dict:
        return {
            "seed": self.seed,
            "points": self.points,
            "space": self.space,
            "num_samples": self.num_samples,
            "handed_out": self.handed_out,
            "live": sorted(self.live),
            "max_concurrent": self.max_concurrent,
        }

    def load_state_dict(self, state: Mapping) -> None:
        self.seed = state["seed"]
        self.points = list(state["points"])
        self.space = state["space"]
        self.num_samples = state["num_samples"]
        self.handed_out = state["handed_out"]
        self.live = set(state["live"])
        self.max_concurrent = state["max_concurrent"]
        self._iterator = None
