"""One training worker: an actor (a process of its own) that joins the process group and runs
``train_loop_per_worker`` in a thread, so that the trainer can take rank 0's reports one by
one (``next_report``) while the loop runs, and see any rank fail (``wait_done``)."""

from __future__ import annotations

import inspect
import os
import queue
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from caliper.integrations.torch.context import TrainContext, WorkerSession, set_worker_session
from caliper.tune.checkpoint import Checkpoint

_DONE = object()
# How long ranks wait for each other to join the process group.
_JOIN_TIMEOUT_S = 120


def call_loop(fn: Callable, config: Mapping[str, Any]) -> None:
    """``fn(config)``, or ``fn()`` when it takes no argument (both are Ray Train's forms)."""
    try:
        takes_none = not inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes_none = False
    if takes_none:
        fn()
    else:
        fn(dict(config))


class TorchWorker:
    """Actor class of one rank; see the module docstring."""

    def __init__(self) -> None:
        self._reports: queue.Queue = queue.Queue()
        self._acks: queue.Queue = queue.Queue()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(
        self,
        fn: Callable,
        config: Mapping[str, Any],
        rank: int,
        world_size: int,
        init_method: str,
        use_gpu: bool,
        checkpoint: Checkpoint | None,
        trial: Mapping[str, Any],
        env: Mapping[str, str],
    ) -> int:
        """Start the loop in a thread; returns this worker's pid at once."""
        os.environ.update(env)
        os.environ.update(
            RANK=str(rank),
            WORLD_SIZE=str(world_size),
            LOCAL_RANK=str(rank),
            LOCAL_WORLD_SIZE=str(world_size),
            NODE_RANK="0",
        )
        args = (fn, config, rank, world_size, init_method, use_gpu, checkpoint, trial)
        self._thread = threading.Thread(target=self._main, args=args, daemon=True)
        self._thread.start()
        return os.getpid()

    def _main(self, fn, config, rank, world_size, init_method, use_gpu, checkpoint, trial):
        joined = False
        try:
            import torch
            import torch.distributed as dist

            threads = os.environ.get("OMP_NUM_THREADS")
            if threads:
                torch.set_num_threads(int(threads))
            if use_gpu:
                if not torch.cuda.is_available():
                    raise RuntimeError(
                        "ScalingConfig(use_gpu=True) but torch sees no CUDA GPU in worker rank "
                        f"{rank}; use use_gpu=False to train on CPU with gloo"
                    )
                torch.cuda.set_device(rank % torch.cuda.device_count())
            dist.init_process_group(
                "nccl" if use_gpu else "gloo",
                init_method=init_method,
                rank=rank,
                world_size=world_size,
                timeout=timedelta(seconds=_JOIN_TIMEOUT_S),
            )
            joined = True
            context = TrainContext(rank, world_size, trial)
            send = self._send if rank == 0 else None
            set_worker_session(WorkerSession(context, checkpoint, send))
            call_loop(fn, config)
        except BaseException as exc:  # handed to the trainer by next_report / wait_done
            self._error = exc
        finally:
            set_worker_session(None)
            if joined:
                try:
                    import torch.distributed as dist

                    dist.destroy_process_group()
                except Exception:
                    pass
            self._done.set()
            self._reports.put(_DONE)

    def _send(self, metrics: dict, checkpoint: Checkpoint | None) -> None:
        self._reports.put((metrics, checkpoint))
        self._acks.get()  # the trial took it (and copied the checkpoint)

    def next_report(self, ack: bool) -> tuple[dict, Checkpoint | None] | None:
        """Rank 0: acknowledge the previous report (when ``ack``) and return the next one,
        or ``None`` when the loop returned; raises what the loop raised."""
        if ack:
            self._acks.put(None)
        item = self._reports.get()
        if item is _DONE:
            if self._error is not None:
                raise self._error
            return None
        return item

    def wait_done(self) -> None:
        """Return when the loop ended; raise what it raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
