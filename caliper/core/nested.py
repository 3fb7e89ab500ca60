"""How the state machine answers workers whose user code calls the API (nested calls).

A worker blocked in a nested ``get`` or ``wait`` is answered by a ``REPLY`` message once the
objects are done; meanwhile a blocked task lends its CPUs back, as Ray does, so that tasks
waiting on tasks they started cannot deadlock a full machine.
"""

from __future__ import annotations

from caliper.core.entities import RemoteWait, Send, TaskEntry
from caliper.core.exceptions import InfeasibleRequestError
from caliper.core.protocol import Msg, Op

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

    def on_request(self, worker_id: int, req_id: int, op: int, payload, resources) -> None:
        """A request a worker made on behalf of user code (``resources()`` gives the
        cluster's totals and availability for ``caliper.cluster_resources`` in a worker)."""
        if op == Op.GET:
            self.remote_get(worker_id, req_id, payload, len(payload), True)
        elif op == Op.WAIT:
            ids, num_returns = payload
            self.remote_get(worker_id, req_id, ids, num_returns, False)
        elif op == Op.READY_NOW:
            self.reply(worker_id, req_id, [i for i in payload if self.is_done(i)])
        elif op == Op.CANCEL_WAIT:
            self.cancel_wait(worker_id, payload)
        elif op == Op.LOOKUP_ACTOR:
            self.reply(worker_id, req_id, self.lookup_actor(payload))
        elif op == Op.RESOURCES:
            self.reply(worker_id, req_id, resources())
        elif op == Op.PUT:
            self.put(*payload)
        elif op == Op.KILL:
            self.kill_actor(*payload)
        elif op == Op.CANCEL:
            self.cancel(*payload)
        elif op == Op.RELEASE_OBJECTS:
            self.release_objects(payload)
        elif op == Op.RELEASE_ACTOR:
            self.release_actor(payload)
        elif op == Op.REMOVE_PG:
            self.remove_pg(payload)
        elif op == Op.POST:
            self.inbox.append((worker_id, req_id, payload))
            if req_id:
                self.inbox_waiting += 1  # its worker waits for the answer
            self.completed = True  # wakes the thread waiting in channel.receive
        else:
            self._nested_submit(op, payload)

    def _nested_submit(self, op: int, payload) -> None:
        """A submission from a worker: an impossible request fails its object, not the loop."""
        try:
            if op == Op.SUBMIT_TASK:
                self.submit_task(payload)
            elif op == Op.CREATE_ACTOR:
                self.create_actor(payload)
            elif op == Op.CALL:
                self.submit_call(payload)
            elif op == Op.CREATE_PG:
                self.create_pg(*payload)
        except (InfeasibleRequestError, ValueError, TypeError) as exc:
            self.fail(payload[3] if op == Op.CREATE_PG else payload.obj_id, exc)
