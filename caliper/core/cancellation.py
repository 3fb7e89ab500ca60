"""How the state machine carries out ``caliper.cancel(ref)`` (Ray's ``ray.cancel``).

A task not started yet is dropped; a running task is interrupted (it raises
``TaskCancelledError`` where it is) or, with ``force=True``, its worker is killed; an actor call
not sent yet is dropped. Every cancelled ref raises ``TaskCancelledError`` at ``get``; a task
that finished first keeps its result.
"""

from __future__ import annotations

from caliper.core.entities import InterruptWorker, TaskState
from caliper.core.exceptions import TaskCancelledError
from caliper.core.protocol import Status
from caliper.core.serialization import dumps

_RAISED = int(Status.RAISED)


def cancelled_error(name: str) -> TaskCancelledError:
    return TaskCancelledError(f"{name} was cancelled by caliper.cancel()")


class Cancellation:
    """Mixin of :class:`~caliper.core.state.RuntimeState` (uses its tasks, actors, queues,
    worker pool and object table)."""

    def cancel(self, obj_id: int, force: bool) -> None:
        task = self.tasks.get(obj_id)
        if task is not None:
            self._cancel_task(task, force)
            return
        for actor in self.actors.values():
            for call in actor.queue:
                if call.obj_id == obj_id:  # not sent yet: drop it
                    actor.queue.remove(call)
                    if call.deps:
                        self.objs.unhold(call.deps)
                    self._end(call, _RAISED, dumps(cancelled_error(f"call {call.method}")))
                    self._pump(actor)
                    return

    def _cancel_task(self, task, force: bool) -> None:
        error = dumps(cancelled_error(task.spec.name))
        if task.state is TaskState.RUNNING:
            task.cancelled = True
            if force:
                self.pool.kill(task.worker)
            else:
                self.out.append(InterruptWorker(task.worker.worker_id))
            return
        if task.state is TaskState.QUEUED:
            self._dequeue(task)
        elif task.state is TaskState.ASSIGNED and task.worker is not None:
            task.worker.task = None  # the starting worker becomes idle when it connects
        self._end_task(task)
        self._end(task.spec, _RAISED, error)
        self.schedule()
