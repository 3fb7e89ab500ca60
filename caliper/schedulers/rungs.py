"""Rung maths of successive halving, ASHA and HyperBand as pure functions over plain data.

Values here are *losses*: the scheduler's metric turned so that lower is better
(:func:`to_loss`). NaN is the worst loss in every ranking (below ``inf``), and a NaN never
goes past a rung: a run whose metric became NaN does not recover.

Symbols follow Li et al., "Hyperband: A Novel Bandit-Based Approach to Hyperparameter
Optimization" (JMLR 2018): ``R`` = ``max_t``, ``eta`` = ``reduction_factor``, ``s`` the bracket,
``n_i`` the trials and ``r_i`` the resource (``time_attr`` value) of rung ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_EPS = 1e-9  # relative slack for float milestones (81 * 3**-4 * 3**4 is not exactly 81)


def to_loss(value: float | None, mode: str) -> float:
    """``value`` of a metric as a loss: itself when minimising, negated when maximising;
    ``None`` and NaN become NaN."""
    if value is None or value != value:
        return math.nan
    return float(value) if mode == "min" else -float(value)


def rank_key(loss: float) -> tuple[bool, float]:
    """Sort key putting lower losses first and NaN last."""
    return (loss != loss, 0.0 if loss != loss else loss)


def _tidy(x: float) -> float | int:
    """``x`` as an int when it is one up to float error (milestones read better)."""
    near = round(x)
    return int(near) if abs(x - near) <= _EPS * max(1.0, abs(x)) else x


def rung_milestones(
    grace_period: float, max_t: float, reduction_factor: float, skip: int = 0
) -> list[float | int]:
    """ASHA's rungs: ``grace_period * reduction_factor**k`` for ``k >= skip`` up to ``max_t``
    (inclusive). Bracket ``s`` of ASHA uses ``skip=s``."""
    out: list[float | int] = []
    k = skip
    while True:
        milestone = _tidy(grace_period * reduction_factor**k)
        if milestone > max_t * (1 + _EPS):
            return out
        out.append(milestone)
        k += 1


def num_to_keep(n: int, reduction_factor: float) -> int:
    """How many of ``n`` values recorded at a rung are its top ``1/reduction_factor``:
    ``ceil(n / eta)``, so the first trial at a rung always goes on."""
    return math.ceil(n / reduction_factor - _EPS) if n else 0


def cutoff(losses: Iterable[float], reduction_factor: float) -> float | None:
    """The loss a trial must match or beat to be in the top ``1/eta`` of ``losses`` (the
    ``num_to_keep``-th lowest; NaN ranks last). ``None`` when ``losses`` is empty."""
    ordered = sorted(losses, key=rank_key)
    if not ordered:
        return None
    return ordered[num_to_keep(len(ordered), reduction_factor) - 1]


def passes_rung(loss: float, recorded: Iterable[float], reduction_factor: float) -> bool:
    """ASHA's rule (Li et al. 2020, Algorithm 2, as a stopping rule): a trial whose ``loss`` is
    recorded at a rung beside the losses ``recorded`` there before it goes on only if it is in
    the top ``1/eta`` of them all (itself included). Ties at the cut-off all go on; a NaN never
    does."""
    if loss != loss:
        return False
    limit = cutoff([loss, *recorded], reduction_factor)
    return limit != limit or loss <= limit  # a NaN cut-off: fewer numbers than places


def top_k(losses: Mapping[str, float], k: int) -> list[str]:
    """The keys of the ``k`` lowest losses, best first; ties keep the mapping's order (first
    recorded first) and NaNs are never among them."""
    ranked = sorted(losses, key=lambda key: rank_key(losses[key]))
    return [key for key in ranked[:k] if losses[key] == losses[key]]


# -- HyperBand ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BracketPlan:
    """One bracket of HyperBand: successive halving started with ``sizes[0]`` trials.

    Attributes:
        s: the bracket's index (``s_max`` is the most exploratory, ``0`` runs all to ``R``).
        sizes: ``n_i``, the trials at rung ``i``.
        milestones: ``r_i``, the ``time_attr`` value a trial reaches at rung ``i``.
    """

    s: int
    sizes: tuple[int, ...]
    milestones: tuple[float | int, ...]


def s_max(max_t: float, reduction_factor: float) -> int:
    """``floor(log_eta(R))``: the largest ``s`` with ``eta**s <= R``."""
    s = 0
    while reduction_factor ** (s + 1) <= max_t * (1 + _EPS):
        s += 1
    return s


def halving_sizes(n: int, reduction_factor: float, s: int) -> tuple[int, ...]:
    """``n_i = floor(n * eta**-i)`` for rungs ``i = 0..s``, at least 1 each (a bracket given
    fewer trials than planned still takes its best one to the end)."""
    return tuple(max(1, math.floor(n * reduction_factor**-i + _EPS)) for i in range(s + 1))


def hyperband_brackets(max_t: float, reduction_factor: float) -> list[BracketPlan]:
    """HyperBand's brackets (Li et al. 2018, Algorithm 1), most exploratory first:
    ``n = ceil((s_max + 1) / (s + 1) * eta**s)``, ``r = R * eta**-s``, then ``n_i`` and
    ``r_i = r * eta**i`` per rung. For ``R=81, eta=3`` this is the paper's Table 1."""
    top = s_max(max_t, reduction_factor)
    plans = []
    for s in range(top, -1, -1):
        n = math.ceil((top + 1) / (s + 1) * reduction_factor**s - _EPS)
        milestones = tuple(_tidy(max_t * reduction_factor ** (i - s)) for i in range(s + 1))
        plans.append(BracketPlan(s, halving_sizes(n, reduction_factor, s), milestones))
    return plans
