"""The tuning API (``from caliper import tune``), with Ray Tune's names.

This version has the search space (``tune.uniform``, ``tune.loguniform``, ``tune.randint``,
``tune.choice``, ``tune.grid_search``, ``tune.sample_from`` and the quantized and normal
variants), the stoppers (``tune.Stopper`` and its standard subclasses), and
``tune.with_resources`` / ``tune.with_parameters`` / ``tune.PlacementGroupFactory``. The ``Tuner``,
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
from caliper.tune.trainable_wrappers import (
    PlacementGroupFactory,
    with_parameters,
    with_resources,
)

__all__ = [
    "CombinedStopper",
    "ExperimentPlateauStopper",
    "FunctionStopper",
    "MaximumIterationStopper",
    "NoopStopper",
    "PlacementGroupFactory",
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
    "with_parameters",
    "with_resources",
]
