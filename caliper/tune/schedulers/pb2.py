"""Ray Tune's ``ray.tune.schedulers.pb2`` path for :class:`caliper.schedulers.PB2`."""

from caliper.schedulers.pb2 import PB2

__all__ = ["PB2"]
