"""The rung maths of ASHA and HyperBand, directly: milestones, cut-offs with ties and NaN in
both modes, and HyperBand's brackets against the paper's table."""

from __future__ import annotations

import math

import pytest

from caliper.schedulers.rungs import (
    BracketPlan,
    cutoff,
    halving_sizes,
    hyperband_brackets,
    num_to_keep,
    passes_rung,
    rank_key,
    rung_milestones,
    s_max,
    to_loss,
    top_k,
)

NAN = math.nan


def test_milestones_are_grace_period_times_powers_of_eta_up_to_max_t():
    assert rung_milestones(1, 27, 3) == [1, 3, 9, 27]
    assert rung_milestones(1, 100, 4) == [1, 4, 16, 64]
    assert rung_milestones(1, 100, 4, skip=1) == [4, 16, 64]
    assert rung_milestones(2, 10, 2) == [2, 4, 8]
    assert rung_milestones(5, 5, 3) == [5]
    assert rung_milestones(0.5, 2.0, 2) == [0.5, 1, 2]
    assert all(type(m) is int for m in rung_milestones(1, 81, 3))


def test_to_loss_turns_max_into_min_and_none_into_nan():
    assert to_loss(2.0, "min") == 2.0
    assert to_loss(2.0, "max") == -2.0
    assert math.isnan(to_loss(None, "min"))
    assert math.isnan(to_loss(NAN, "max"))
    assert sorted([3.0, NAN, -1.0, math.inf], key=rank_key)[:3] == [-1.0, 3.0, math.inf]


@pytest.mark.parametrize(
    ("n", "eta", "kept"), [(0, 3, 0), (1, 3, 1), (2, 3, 1), (3, 3, 1), (4, 3, 2), (9, 3, 3),
                           (10, 3, 4), (4, 4, 1), (5, 4, 2), (7, 2, 4), (6, 1.5, 4)]
)  # fmt: skip
def test_num_to_keep_is_the_top_one_over_eta_rounded_up(n, eta, kept):
    assert num_to_keep(n, eta) == kept


def test_cutoff_is_the_last_kept_value_with_nan_ranked_last():
    assert cutoff([], 3) is None
    assert cutoff([5.0], 3) == 5.0
    assert cutoff([4.0, 1.0, 3.0, 2.0], 3) == 2.0  # 2 of 4 kept
    assert math.isnan(cutoff([NAN, 1.0, NAN, NAN], 3))  # 2 places, 1 number
    assert cutoff([NAN, 1.0, 2.0], 2) == 2.0


def test_passes_rung_keeps_the_top_third_itself_included():
    # arrival order 3, 1, 2, 4 with eta = 2 (losses):
    assert passes_rung(3.0, [], 2)  # alone: always goes on
    assert passes_rung(1.0, [3.0], 2)  # best of 2 (1 place)
    assert passes_rung(2.0, [3.0, 1.0], 2)  # 2nd of 3 (2 places)
    assert not passes_rung(4.0, [3.0, 1.0, 2.0], 2)  # 4th of 4 (2 places)
    assert not passes_rung(5.0, [1.0], 2)


def test_ties_at_the_cutoff_all_go_on():
    assert passes_rung(1.0, [1.0], 3)
    assert passes_rung(2.0, [1.0, 2.0, 2.0, 3.0], 3)  # places: 2; cut-off 2.0; a tie
    assert not passes_rung(2.0, [1.0, 1.0, 3.0, 0.5], 3)  # three strictly better, 2 places


def test_nan_never_passes_and_ranks_below_every_number():
    assert not passes_rung(NAN, [], 3)
    assert not passes_rung(NAN, [NAN, NAN], 3)
    assert passes_rung(9.0, [NAN, NAN], 3)  # the only number: the best
    assert passes_rung(math.inf, [NAN, NAN, NAN], 3)
    assert passes_rung(9.0, [NAN, 1.0, NAN, NAN], 3)  # 2nd of 5, 2 places


@pytest.mark.parametrize("mode", ["min", "max"])
def test_both_modes_keep_the_better_values(mode):
    values = [0.3, 0.9, 0.1, 0.5, 0.7, NAN]
    losses = [to_loss(v, mode) for v in values]
    recorded: list[float] = []
    went_on = []
    for loss in losses:
        went_on.append(passes_rung(loss, recorded, 3))
        recorded.append(loss)
    if mode == "min":  # 0.3 first; 0.9 worse (1 place); 0.1 best; 0.5 3rd of 4 (2 places)...
        assert went_on == [True, False, True, False, False, False]
    else:  # 0.3 first; 0.9 best; 0.1 worst; 0.5 2nd of 4; 0.7 2nd of 5 (2 places)
        assert went_on == [True, True, False, True, True, False]


def test_top_k_is_stable_on_ties_and_never_takes_nan():
    losses = {"a": 2.0, "b": 1.0, "c": 1.0, "d": NAN, "e": 3.0}
    assert top_k(losses, 2) == ["b", "c"]
    assert top_k(losses, 3) == ["b", "c", "a"]
    assert top_k({"x": NAN, "y": NAN}, 1) == []
    assert top_k(losses, 5) == ["b", "c", "a", "e"]


def test_hyperband_brackets_match_the_papers_table_for_r81_eta3():
    """Li et al. (JMLR 2018), Table 1: R = 81, eta = 3."""
    assert s_max(81, 3) == 4
    assert hyperband_brackets(81, 3) == [
        BracketPlan(4, (81, 27, 9, 3, 1), (1, 3, 9, 27, 81)),
        BracketPlan(3, (34, 11, 3, 1), (3, 9, 27, 81)),
        BracketPlan(2, (15, 5, 1), (9, 27, 81)),
        BracketPlan(1, (8, 2), (27, 81)),
        BracketPlan(0, (5,), (81,)),
    ]


def test_hyperband_brackets_for_other_sizes():
    assert [(p.s, p.sizes, p.milestones) for p in hyperband_brackets(27, 3)] == [
        (3, (27, 9, 3, 1), (1, 3, 9, 27)),
        (2, (12, 4, 1), (3, 9, 27)),
        (1, (6, 2), (9, 27)),
        (0, (4,), (27,)),
    ]
    assert [(p.sizes, p.milestones) for p in hyperband_brackets(3, 3)] == [
        ((3, 1), (1, 3)),
        ((2,), (3,)),
    ]
    assert s_max(2, 3) == 0
    assert hyperband_brackets(2, 3) == [BracketPlan(0, (1,), (2,))]


def test_halving_sizes_keep_at_least_one():
    assert halving_sizes(81, 3, 4) == (81, 27, 9, 3, 1)
    assert halving_sizes(5, 3, 3) == (5, 1, 1, 1)
