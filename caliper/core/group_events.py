"""How the state machine creates and removes placement groups.

A group waits in a FIFO until all its bundles can be reserved at once; each reserved bundle
becomes a small ledger of its own from which the group's tasks and actors are served. Removing
a group kills the actors and tasks placed in it and gives its bundles back to the node.
"""

from __future__ import annotations

from caliper.core.entities import ActorState, PGEntry, PGState, TaskState
from caliper.core.exceptions import InfeasibleRequestError, TaskCancelledError
from caliper.core.feasibility import infeasible_reason
from caliper.core.protocol import Status
from caliper.core.resources import Request
from caliper.core.serialization import dumps

_RAISED = int(Status.RAISED)


class PlacementGroupEvents:
    """Mixin of :class:`~caliper.core.state.RuntimeState` (uses its nodes, groups, actors,
    tasks, worker pool and scheduler)."""

    def create_pg(self, pg_id: int, bundles: list[Request], strategy, ready_obj: int) -> None:
        reason = infeasible_reason(self.nodes, bundles, strategy)
        if reason:
            raise InfeasibleRequestError(reason)
        self.objs.new(ready_obj)
        pg = PGEntry(pg_id=pg_id, bundles=bundles, strategy=strategy, ready_obj=ready_obj)
        self.pgs[pg_id] = pg
        self.pg_queue.append(pg)
        self.schedule()

    def remove_pg(self, pg_id: int) -> None:
        pg = self.pgs.pop(pg_id, None)
        if pg is None:
            return
        was_created = pg.state is PGState.CREATED
        if pg.state is PGState.PENDING:
            self.pg_queue.remove(pg)
        pg.state = PGState.REMOVED
        error = TaskCancelledError("its placement group was removed")
        self._fail(pg.ready_obj, error)
        for actor in list(self.actors.values()):
            where = actor.spec.placement
            if where and where.pg_id == pg_id and actor.state is not ActorState.DEAD:
                worker = actor.worker
                self._actor_dead(actor, "its placement group was removed")
                if worker is not None:
                    self.pool.kill(worker)
        for task in list(self.tasks.values()):
            if task.spec.placement and task.spec.placement.pg_id == pg_id:
                if task.state is TaskState.QUEUED:
                    self._dequeue(task)
                if task.worker is not None:
                    task.worker.task = None
                    self.pool.kill(task.worker)
                self._end_task(task)
                self._end(task.spec, _RAISED, dumps(error))
        if was_created:
            for alloc in pg.allocs:
                self.nodes[alloc.node_index].release(alloc)
        self.schedule()
