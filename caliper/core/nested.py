"""How the state machine answers workers whose user code calls the API (nested calls).

A worker blocked in a nested ``get`` or ``wait`` is answered by a ``REPLY`` message once the
objects are done; meanwhile a blocked task lends its CPUs back, as Ray does, so that tasks
waiting on tasks they started cannot deadlock a full machine.
"""

from __future__ import annotations

from caliper.core.entities import RemoteWait, Send, TaskEntry
from caliper.core.protocol import Msg

_REPLY = Msg.REPLY


class NestedRequests:
    """Mixin of :class:`~caliper.core.state.RuntimeState` (uses its ``workers``, ``objs``,
    ``out`` and ``schedule``)."""

    def remote_get(
        self, worker_id: int, req_id: int, ids: tuple[int, ...], needed: int, is_get: bool
    ) -> None:
        wait = RemoteWait(worker_id, req_id, ids, needed, is_get)
        missing = [i for i in ids if not self.is_done(i)]
        wait.needed = needed - (len(ids) - len(missing))
        if wait.needed <= 0:
            self._reply_wait(wait)
            return
        self.objs.add_remote_wait(wait)
        self._lend_cpu(worker_id)

    def _lend_cpu(self, worker_id: int) -> None:
        """A task blocked in a nested get/wait hands its CPUs back meanwhile (as Ray does), so
        tasks that wait on tasks they started cannot deadlock a full machine."""
        worker = self.workers.get(worker_id)
        task = worker.task if worker is not None else None
        if task is None or task.alloc is None or not task.alloc.cpu or task.lent_cpu:
            return
        task.lent_cpu = True
        task.ledger.avail_cpu += task.alloc.cpu
        self.schedule()

    def _reclaim_cpu(self, task: TaskEntry) -> None:
        """Take lent CPUs back (the ledger may dip below zero until other work finishes)."""
        if task.lent_cpu:
            task.lent_cpu = False
            task.ledger.avail_cpu -= task.alloc.cpu

    def _reply_wait(self, wait: RemoteWait) -> None:
        wait.fired = True
        worker = self.workers.get(wait.worker_id)
        if worker is not None and worker.task is not None:
            self._reclaim_cpu(worker.task)
        if wait.is_get:
            payload = [self.result(i) for i in wait.ids]
        else:
            payload = [i for i in wait.ids if self.is_done(i)]
        self.out.append(Send(wait.worker_id, (_REPLY, wait.req_id, payload)))

    def cancel_wait(self, worker_id: int, req_id: int) -> None:
        """The worker gave up waiting (timeout): forget the wait, take the lent CPUs back."""
        for wait in self.objs.waits_of(worker_id):
            if wait.req_id == req_id:
                wait.fired = True
        worker = self.workers.get(worker_id)
        if worker is not None and worker.task is not None:
            self._reclaim_cpu(worker.task)

    def reply(self, worker_id: int, req_id: int, payload: object) -> None:
        self.out.append(Send(worker_id, (_REPLY, req_id, payload)))
