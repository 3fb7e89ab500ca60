"""ConcurrencyLimiter and Repeater around a searcher that records what it is told."""

from __future__ import annotations

import pytest

from caliper.searchers import FINISHED, ConcurrencyLimiter, Repeater, Searcher
from caliper.searchers.repeater import TRIAL_INDEX


class Recorder(Searcher):
    """Suggests {"i": n} for n = 0, 1, ...; records completions."""

    def __init__(self, limit=100):
        super().__init__()
        self.n, self.limit, self.told = 0, limit, []

    def suggest(self, trial_id):
        if self.n >= self.limit:
            return FINISHED
        self.n += 1
        return {"i": self.n - 1}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.told.append((trial_id, result, error))

    def state_dict(self):
        return {"n": self.n, "told": list(self.told)}

    def load_state_dict(self, state):
        self.n, self.told = state["n"], list(state["told"])


def test_limiter_holds_back_while_the_limit_is_reached():
    limiter = ConcurrencyLimiter(Recorder(), max_concurrent=2)
    limiter.set_search_properties("loss", "min", {})
    assert limiter.suggest("a") and limiter.suggest("b")
    assert limiter.suggest("c") is None
    limiter.on_trial_complete("a", {"loss": 1})
    assert limiter.suggest("c") == {"i": 2}
    assert limiter.searcher.told == [("a", {"loss": 1}, False)]


def test_limiter_in_batches_tells_the_batch_together_and_then_starts_the_next():
    limiter = ConcurrencyLimiter(Recorder(), max_concurrent=2, batch=True)
    limiter.set_search_properties("loss", "min", {})
    limiter.suggest("a"), limiter.suggest("b")
    limiter.on_trial_complete("a", {"loss": 1})
    assert limiter.suggest("c") is None and limiter.searcher.told == []
    limiter.on_trial_complete("b", None, error=True)
    assert [t[0] for t in limiter.searcher.told] == ["a", "b"]
    assert limiter.suggest("c") == {"i": 2}


def test_limiter_checks_its_arguments():
    with pytest.raises(ValueError, match=r"max_concurrent must be >= 1, got 0"):
        ConcurrencyLimiter(Recorder(), 0)
    with pytest.raises(TypeError, match=r"searcher must be a Searcher"):
        ConcurrencyLimiter(object(), 2)


def test_repeater_repeats_each_config_and_tells_the_mean_once():
    repeater = Repeater(Recorder(), repeat=3)
    repeater.set_search_properties("loss", "min", {})
    configs = [repeater.suggest(f"t{i}") for i in range(4)]
    assert configs[:3] == [{"i": 0, TRIAL_INDEX: k} for k in range(3)]
    assert configs[3] == {"i": 1, TRIAL_INDEX: 0}
    repeater.on_trial_complete("t0", {"loss": 1.0})
    repeater.on_trial_complete("t1", None, error=True)  # left out of the mean
    assert repeater.searcher.told == []
    repeater.on_trial_complete("t2", {"loss": 3.0})
    assert repeater.searcher.told == [("t0", {"loss": 2.0}, False)]


def test_repeater_without_index_and_when_every_repeat_fails():
    repeater = Repeater(Recorder(), repeat=2, set_index=False)
    repeater.set_search_properties("loss", "min", {})
    assert repeater.suggest("a") == repeater.suggest("b") == {"i": 0}
    repeater.on_trial_complete("a", None, error=True)
    repeater.on_trial_complete("b", {"other": 1})
    assert repeater.searcher.told == [("a", None, True)]
    with pytest.raises(ValueError, match=r"repeat must be an int >= 1"):
        Repeater(Recorder(), repeat=0)
