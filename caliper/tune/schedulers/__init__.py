"""Ray Tune's import path for the schedulers: ``from caliper.tune.schedulers import
ASHAScheduler`` (and ``caliper.tune.schedulers.pb2``) give the classes of
:mod:`caliper.schedulers`."""

from caliper.schedulers import (
    PB2,
    ASHAScheduler,
    AsyncHyperBandScheduler,
    Exploit,
    FIFOScheduler,
    HyperBandScheduler,
    MedianStoppingRule,
    PopulationBasedTraining,
    PopulationBasedTrainingReplay,
    StopTrial,
    TrialScheduler,
)

__all__ = [
    "PB2",
    "ASHAScheduler",
    "AsyncHyperBandScheduler",
    "Exploit",
    "FIFOScheduler",
    "HyperBandScheduler",
    "MedianStoppingRule",
    "PopulationBasedTraining",
    "PopulationBasedTrainingReplay",
    "StopTrial",
    "TrialScheduler",
]
