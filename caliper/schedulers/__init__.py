"""Trial schedulers: who runs next and who stops early (Ray Tune's names)."""

from caliper.schedulers.trial_scheduler import FIFOScheduler, TrialScheduler

__all__ = ["FIFOScheduler", "TrialScheduler"]
