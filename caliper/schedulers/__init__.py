"""Trial schedulers: who runs next and who stops early (Ray Tune's names)."""

from caliper.schedulers.actions import Exploit, StopTrial
from caliper.schedulers.asha import ASHAScheduler, AsyncHyperBandScheduler
from caliper.schedulers.hyperband import HyperBandScheduler
from caliper.schedulers.median_stopping import MedianStoppingRule
from caliper.schedulers.pb2 import PB2
from caliper.schedulers.pbt import PopulationBasedTraining, PopulationBasedTrainingReplay
from caliper.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

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
