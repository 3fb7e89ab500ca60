"""Ray Train's ``ScalingConfig``: how many workers a training run has and what each holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_KEYS = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


class TrainingFailedError(RuntimeError):
    """``TorchTrainer.fit()`` failed: a worker raised or died, or the loop never reported.

    ``str(error)`` names the trainer and holds the failed worker's traceback.
    """


@dataclass
class ScalingConfig:
    """The workers of one training run (Ray Train's ``ScalingConfig``).

    Args:
        num_workers: how many worker processes (ranks 0..num_workers-1), at least 1.
        use_gpu: one GPU per worker (unless ``resources_per_worker`` says otherwise) and the
            nccl backend; gloo on CPU otherwise.
        resources_per_worker: e.g. ``{"CPU": 2}`` or ``{"CPU": 1, "GPU": 0.5}`` (default one
            CPU, plus one GPU when ``use_gpu``).
    """

    num_workers: int = 1
    use_gpu: bool = False
    resources_per_worker: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int):
            raise TypeError(
                f"ScalingConfig(num_workers=...) must be an int, got {self.num_workers!r}"
            )
        if self.num_workers < 1:
            raise ValueError(
                f"ScalingConfig(num_workers={self.num_workers}) needs at least 1 worker, "
                "e.g. ScalingConfig(num_workers=2)"
            )
        if not isinstance(self.use_gpu, bool):
            raise TypeError(
                f"ScalingConfig(use_gpu=...) must be True or False, got {self.use_gpu!r}"
            )
        if self.resources_per_worker is not None:
            self.worker_bundle()  # bad input fails here

    def worker_bundle(self) -> dict[str, float]:
        """What one worker holds, with caliper's resource names (``CPU``, ``GPU``, ...)."""
        bundle: dict[str, float] = {}
        for key, amount in (self.resources_per_worker or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"resources_per_worker keys must be str, got {key!r}")
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
                raise ValueError(
                    f"resources_per_worker[{key!r}] must be a number >= 0, got {amount!r}"
                )
            bundle[_KEYS.get(key.lower(), key)] = float(amount)
        bundle.setdefault("CPU", 1.0)
        if self.use_gpu:
            bundle.setdefault("GPU", 1.0)
        elif bundle.get("GPU"):
            raise ValueError(
                f"resources_per_worker asks for GPU={bundle['GPU']:g} but use_gpu=False; set "
                "use_gpu=True to train on GPUs"
            )
        return bundle

    def as_bundles(self) -> list[dict[str, Any]]:
        """The trial's placement-group bundles: an empty one for the trial's own process
        (which only coordinates), then one per worker, each worker placed in its own."""
        worker = self.worker_bundle()
        return [{}] + [dict(worker) for _ in range(self.num_workers)]
