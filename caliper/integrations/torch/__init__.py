"""Distributed PyTorch trials with Ray Train's names (``ray.train.torch`` ->
``caliper.integrations.torch``): :class:`TorchTrainer` runs ``train_loop_per_worker`` on N
worker processes joined by ``torch.distributed`` (gloo on CPU, nccl on GPU), alone
(``trainer.fit()``) or as each trial of a Tuner. torch is imported only when a worker or a
``prepare_*`` function needs it.
"""

from caliper.integrations.torch.config import ScalingConfig, TrainingFailedError
from caliper.integrations.torch.context import (
    TrainContext,
    get_checkpoint,
    get_context,
    report,
)
from caliper.integrations.torch.prepare import get_device, prepare_data_loader, prepare_model
from caliper.integrations.torch.trainer import TorchTrainer, TuneReportCallback
from caliper.tune.checkpoint import Checkpoint
from caliper.tune.config import CheckpointConfig, FailureConfig, RunConfig

__all__ = [
    "Checkpoint",
    "CheckpointConfig",
    "FailureConfig",
    "RunConfig",
    "ScalingConfig",
    "TorchTrainer",
    "TrainContext",
    "TrainingFailedError",
    "TuneReportCallback",
    "get_checkpoint",
    "get_context",
    "get_device",
    "prepare_data_loader",
    "prepare_model",
    "report",
]
