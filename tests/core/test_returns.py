"""``num_returns`` for tasks and actor methods, ``caliper.method``, and ``async def`` methods."""

from __future__ import annotations

import asyncio
import sys

import cloudpickle
import pytest

import caliper

pytestmark = pytest.mark.timeout(30)
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def divmod_task(a, b):
    return a // b, a % b


class Stats:
    def __init__(self):
        self.values = []

    @caliper.method(num_returns=2)
    def add(self, x):
        self.values.append(x)
        return len(self.values), sum(self.values)

    def pair(self):
        return "left", "right"

    async def slow_double(self, x):
        await asyncio.sleep(0.01)
        self.values.append(2 * x)
        return 2 * x


def test_task_with_num_returns_gives_one_ref_per_value(runtime):
    task = caliper.remote(num_returns=2)(divmod_task)
    quotient, remainder = task.remote(17, 5)
    assert caliper.get([quotient, remainder]) == [3, 2]
    refs = caliper.remote(divmod_task).options(num_returns=2).remote(9, 4)
    assert isinstance(refs, list) and len(refs) == 2
    assert caliper.get(refs) == [2, 1]


def test_refs_of_a_multi_return_task_feed_other_tasks(runtime):
    task = caliper.remote(num_returns=2)(divmod_task)
    quotient, remainder = task.remote(17, 5)
    add = caliper.remote(lambda a, b: a + b)
    assert caliper.get(add.remote(quotient, remainder)) == 5


def test_wrong_number_of_values_fails_every_ref_with_a_clear_error(runtime):
    task = caliper.remote(num_returns=3)(divmod_task)
    refs = task.remote(17, 5)
    for ref in refs:
        with pytest.raises(ValueError, match="num_returns=3 but returned 2 values"):
            caliper.get(ref)
    not_iterable = caliper.remote(num_returns=2)(lambda: 5).remote()
    with pytest.raises(TypeError, match="must return 2 values"):
        caliper.get(not_iterable[0])


def test_actor_method_num_returns_by_decorator_and_by_options(runtime):
    stats = caliper.remote(Stats).remote()
    count, total = stats.add.remote(4)
    assert caliper.get([count, total]) == [1, 4]
    assert caliper.get(stats.add.remote(6)) == [2, 10]
    left, right = stats.pair.options(num_returns=2).remote()
    assert caliper.get(left) == "left" and caliper.get(right) == "right"
    assert caliper.get(stats.pair.remote()) == ("left", "right")


def test_async_actor_methods_are_awaited_in_call_order(runtime):
    stats = caliper.remote(Stats).remote()
    refs = [stats.slow_double.remote(i) for i in range(5)]
    assert caliper.get(refs) == [0, 2, 4, 6, 8]


def test_num_returns_bad_values(no_runtime):
    with pytest.raises(ValueError, match="num_returns must be >= 1"):
        caliper.remote(num_returns=0)(divmod_task)
    with pytest.raises(TypeError, match="num_returns must be an int"):
        caliper.remote(divmod_task).options(num_returns="2")
    with pytest.raises(ValueError, match="num_returns"):
        caliper.method(num_returns=-1)
    with pytest.raises(TypeError, match="valid options are: num_returns"):
        caliper.remote(Stats).remote().pair.options(num_cpus=1)
