"""Errors the runtime raises (Ray's names are aliases: ``RayTaskError``, ``RayActorError``)."""

from caliper.core.exceptions import (
    ActorDiedError,
    CaliperError,
    GetTimeoutError,
    InfeasibleRequestError,
    RayActorError,
    RayTaskError,
    RemoteTraceback,
    SerializationError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

__all__ = [
    "ActorDiedError",
    "CaliperError",
    "GetTimeoutError",
    "InfeasibleRequestError",
    "RayActorError",
    "RayTaskError",
    "RemoteTraceback",
    "SerializationError",
    "TaskCancelledError",
    "TaskError",
    "WorkerCrashedError",
]
