"""The tuning API (``from caliper import tune``), with Ray Tune's names.

This version has the search space: ``tune.uniform``, ``tune.loguniform``, ``tune.randint``,
``tune.choice``, ``tune.grid_search``, ``tune.sample_from`` and the quantized and normal
variants. The ``Tuner``, trainables and the experiment controller come next.
"""

from caliper.tune.search_space import (
    choice,
    grid_search,
    lograndint,
    loguniform,
    qlograndint,
    qloguniform,
    qrandint,
    qrandn,
    quniform,
    randint,
    randn,
    sample_from,
    uniform,
)

__all__ = [
    "choice",
    "grid_search",
    "lograndint",
    "loguniform",
    "qlograndint",
    "qloguniform",
    "qrandint",
    "qrandn",
    "quniform",
    "randint",
    "randn",
    "sample_from",
    "uniform",
]
