"""``prepare_model`` and ``prepare_data_loader`` (Ray Train's names), called in
``train_loop_per_worker``: the model in DistributedDataParallel on the worker's device, the
data split over the ranks by a ``DistributedSampler``."""

from __future__ import annotations

from typing import Any

from caliper.integrations.torch.context import get_context


def get_device():
    """This worker's device: ``cuda:<local rank>`` among its GPUs when it has any, else CPU."""
    import torch

    dist = torch.distributed
    if torch.cuda.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def prepare_model(
    model: Any,
    move_to_device: bool = True,
    parallel_strategy: str | None = "ddp",
    parallel_strategy_kwargs: dict | None = None,
) -> Any:
    """``model`` moved to the worker's device and, with more than one worker, wrapped in
    ``DistributedDataParallel`` (gradients averaged over the ranks at every backward pass).

    Args:
        model: a ``torch.nn.Module``.
        move_to_device: move the model to :func:`get_device` first.
        parallel_strategy: ``"ddp"`` or ``None`` (no wrapping).
        parallel_strategy_kwargs: passed to ``DistributedDataParallel``.
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"prepare_model takes a torch.nn.Module, got {type(model).__name__}")
    if parallel_strategy not in ("ddp", None):
        raise ValueError(f"parallel_strategy must be 'ddp' or None, got {parallel_strategy!r}")
    context = get_context()
    device = get_device()
    if move_to_device:
        model = model.to(device)
    if parallel_strategy is None or context.get_world_size() < 2:
        return model
    kwargs = dict(parallel_strategy_kwargs or {})
    if device.type == "cuda":
        kwargs.setdefault("device_ids", [device])
        kwargs.setdefault("output_device", device)
    return DistributedDataParallel(model, **kwargs)


class _DeviceLoader:
    """A data loader whose batches (tensors, or tuples/lists/dicts of them) are moved to a
    device."""

    def __init__(self, loader: Any, device: Any) -> None:
        self.loader = loader
        self.device = device
        self.sampler = loader.sampler
        self.dataset = loader.dataset
        self.batch_size = loader.batch_size

    def _move(self, batch: Any) -> Any:
        if hasattr(batch, "to"):
            return batch.to(self.device, non_blocking=True)
        if isinstance(batch, tuple | list):
            return type(batch)(self._move(b) for b in batch)
        if isinstance(batch, dict):
            return {k: self._move(v) for k, v in batch.items()}
        return batch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            yield self._move(batch)


def prepare_data_loader(
    data_loader: Any, add_dist_sampler: bool = True, move_to_device: bool = True
) -> Any:
    """``data_loader`` rebuilt with a ``DistributedSampler`` over this worker's rank and the
    world size (each rank sees its own share of every epoch; shuffled when the loader
    shuffled), its batches moved to the worker's device when that is a GPU.

    Call ``loader.sampler.set_epoch(epoch)`` at each epoch for a new shuffle, as with any
    ``DistributedSampler``.
    """
    from torch.utils.data import DataLoader, RandomSampler
    from torch.utils.data.distributed import DistributedSampler

    if not isinstance(data_loader, DataLoader):
        raise TypeError(
            f"prepare_data_loader takes a torch DataLoader, got {type(data_loader).__name__}"
        )
    context = get_context()
    loader = data_loader
    if add_dist_sampler and context.get_world_size() > 1:
        if loader.batch_sampler is not None and loader.batch_size is None:
            raise ValueError(
                "prepare_data_loader cannot split a DataLoader built with a batch_sampler; "
                "give it batch_size= instead, or pass add_dist_sampler=False"
            )
        sampler = DistributedSampler(
            loader.dataset,
            num_replicas=context.get_world_size(),
            rank=context.get_world_rank(),
            shuffle=isinstance(loader.sampler, RandomSampler),
        )
        loader = DataLoader(
            loader.dataset,
            batch_size=loader.batch_size,
            sampler=sampler,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory,
            drop_last=loader.drop_last,
            timeout=loader.timeout,
            worker_init_fn=loader.worker_init_fn,
            persistent_workers=loader.persistent_workers,
        )
    device = get_device()
    if move_to_device and device.type == "cuda":
        return _DeviceLoader(loader, device)
    return loader
