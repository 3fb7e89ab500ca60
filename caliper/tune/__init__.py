"""The tuning API (``from caliper import tune``), with Ray Tune's names.

This version has the search space (``tune.uniform``, ``tune.loguniform``, ``tune.randint``,
``tune.choice``, ``tune.grid_search``, ``tune.sample_from`` and the quantized and normal
variants) and the stoppers (``tune.Stopper`` and its standard subclasses). The ``Tuner``,
trainables and the experiment controller come next.
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
from caliper.tune.stoppers import (
    CombinedStopper,
    ExperimentPlateauStopper,
    FunctionStopper,
    MaximumIterationStopper,
    NoopStopper,
    Stopper,
    TimeoutStopper,
    TrialPlateauStopper,
)

__all__ = [
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "Stopper",
    "TimeoutStopper",
    "TrialPlateauStopper",
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
