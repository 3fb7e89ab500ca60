"""Loggers: callbacks that write every trial's results (Ray Tune's ``tune.logger`` names).

The controller always writes ``result.json`` (:class:`JsonLoggerCallback`) and ``progress.csv``
(:class:`CSVLoggerCallback`) in each trial directory, and TensorBoard event files
(:class:`TBXLoggerCallback`) when tensorboardX is installed.
"""

from caliper.tune.logger.csv import CSVLoggerCallback
from caliper.tune.logger.json import JsonLoggerCallback
from caliper.tune.logger.logger import LoggerCallback, flatten_dict
from caliper.tune.logger.tensorboardx import TBXLoggerCallback

__all__ = [
    "CSVLoggerCallback",
    "JsonLoggerCallback",
    "LoggerCallback",
    "TBXLoggerCallback",
    "flatten_dict",
]
