"""The pool of worker processes as the state machine sees them (no I/O).

Workers are keyed by the ``CUDA_VISIBLE_DEVICES`` value they were started with, so an idle
worker is only reused for work assigned the same devices. Starting and stopping processes is
requested through instructions appended to the shared ``out`` list.
"""

from __future__ import annotations

from caliper.core.entities import KillWorker, StartWorker, WorkerEntry, WorkerState


class WorkerPool:
    """Every live worker by id, and the idle ones by device string.

    Args:
        out: the state machine's instruction list.
        max_idle: idle workers kept for reuse; beyond that the oldest of a pool is stopped.
    """

    def __init__(self, out: list, max_idle: int) -> None:
        self.out = out
        self.max_idle = max_idle
        self.workers: dict[int, WorkerEntry] = {}
        self.idle: dict[str, list[WorkerEntry]] = {}
        self.idle_count = 0
        self._idle_order: dict[int, WorkerEntry] = {}  # oldest idle first
        self._next_id = 1

    def take(self, cuda: str) -> WorkerEntry:
        """An idle worker with these devices, or a new one (state STARTING)."""
        pool = self.idle.get(cuda)
        if pool:
            self.idle_count -= 1
            worker = pool.pop()
            del self._idle_order[worker.worker_id]
            return worker
        worker = WorkerEntry(worker_id=self._next_id, cuda=cuda)
        self._next_id += 1
        self.workers[worker.worker_id] = worker
        self.out.append(StartWorker(worker.worker_id, cuda))
        return worker

    def make_idle(self, worker: WorkerEntry) -> None:
        worker.state = WorkerState.IDLE
        worker.task = worker.actor = None
        self.idle.setdefault(worker.cuda, []).append(worker)
        self._idle_order[worker.worker_id] = worker
        self.idle_count += 1
        if self.idle_count > self.max_idle:
            self.kill(next(iter(self._idle_order.values())))  # the longest idle, any devices

    def _unidle(self, worker: WorkerEntry) -> None:
        if worker.state is WorkerState.IDLE:
            self.idle[worker.cuda].remove(worker)
            self._idle_order.pop(worker.worker_id, None)
            self.idle_count -= 1

    def kill(self, worker: WorkerEntry) -> None:
        """Ask for the process to be killed; it stays known until :meth:`gone`."""
        self._unidle(worker)
        worker.state = WorkerState.DEAD
        self.out.append(KillWorker(worker.worker_id))

    def gone(self, worker_id: int) -> WorkerEntry | None:
        """The process has exited: forget it. Returns its entry (``None`` if unknown)."""
        worker = self.workers.pop(worker_id, None)
        if worker is not None:
            self._unidle(worker)
            worker.state = WorkerState.DEAD
        return worker
