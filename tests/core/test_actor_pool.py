"""``caliper.util.ActorPool`` as Ray's: ordered and unordered maps, submit/get_next, backlog."""

from __future__ import annotations

import sys
import time

import cloudpickle
import pytest

import caliper
from caliper.exceptions import GetTimeoutError
from caliper.util import ActorPool

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Doubler:
    def double(self, x):
        time.sleep(0.05 if x == 0 else 0.0)  # the first value finishes last
        return 2 * x

    def pid(self, _):
        import os

        return os.getpid()


@pytest.fixture
def pool(runtime):
    actors = [caliper.remote(Doubler).remote() for _ in range(2)]
    return ActorPool(actors)


def test_map_keeps_the_order_of_values(pool):
    assert list(pool.map(lambda a, v: a.double.remote(v), range(6))) == [0, 2, 4, 6, 8, 10]


def test_map_unordered_gives_every_result(pool):
    results = list(pool.map_unordered(lambda a, v: a.double.remote(v), range(6)))
    assert sorted(results) == [0, 2, 4, 6, 8, 10]
    assert results[-1] == 0  # the slow one comes last


def test_work_is_spread_over_the_actors_one_call_each_at_a_time(pool):
    pids = list(pool.map(lambda a, v: a.pid.remote(v), range(8)))
    assert len(set(pids)) == 2


def test_submit_queues_beyond_the_free_actors_and_get_next_is_ordered(pool):
    for v in range(5):
        pool.submit(lambda a, v: a.double.remote(v), v)
    assert not pool.has_free()
    assert [pool.get_next() for _ in range(5)] == [0, 2, 4, 6, 8]
    assert not pool.has_next()
    assert pool.has_free()
    with pytest.raises(StopIteration):
        pool.get_next()


def test_get_next_timeout(pool):
    pool.submit(lambda a, v: a.double.remote(v), 0)
    with pytest.raises(GetTimeoutError):
        pool.get_next(timeout=0.001)
    assert pool.get_next() == 0


def test_pop_idle_and_push(pool):
    actor = pool.pop_idle()
    assert actor is not None
    assert list(pool.map(lambda a, v: a.double.remote(v), [1, 2])) == [2, 4]
    pool.push(actor)
    with pytest.raises(ValueError, match="already in the pool"):
        pool.push(actor)


def test_fn_must_return_a_ref(pool):
    with pytest.raises(TypeError, match="must return the ObjectRef"):
        pool.submit(lambda a, v: v, 1)
    assert pool.has_free()  # the actor is back in the pool
    pids = list(pool.map(lambda a, v: a.pid.remote(v), range(8)))
    assert len(set(pids)) == 2  # both actors still in use
