"""The Pareto front as a pure function."""

from __future__ import annotations

import pytest

from caliper.tune.pareto import check_objectives, dominates, pareto_front


def test_front_of_two_objectives_in_either_direction():
    points = [(1, 5), (2, 2), (5, 1), (3, 3), (2, 2)]
    assert pareto_front(points, ["min", "min"]) == [0, 1, 2, 4]  # equal points both stay
    assert pareto_front(points, ["max", "max"]) == [0, 2, 3]
    assert dominates((1, 1), (2, 1), ["min", "min"]) and not dominates((1, 1), (1, 1), ["min"] * 2)
    assert pareto_front([], ["min"]) == []


def test_objectives_are_checked():
    with pytest.raises(ValueError, match=r"as lists"):
        check_objectives("loss", "min")
    with pytest.raises(ValueError, match=r"same length"):
        check_objectives(["a", "b"], ["min"])
    with pytest.raises(ValueError, match=r"'min' or 'max'"):
        check_objectives(["a"], ["low"])
