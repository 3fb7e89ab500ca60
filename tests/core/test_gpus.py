"""GPU assignment in real workers: packing of fractional requests, whole devices, and the
``CUDA_VISIBLE_DEVICES`` each worker starts with (logical GPUs: the machine needs none)."""

from __future__ import annotations

import os
import sys
from collections import Counter

import cloudpickle
import pytest

import caliper
from caliper.exceptions import ActorDiedError

pytestmark = pytest.mark.timeout(30)

# Ship this module's functions and classes by value, as if they were defined in __main__:
# workers then need not import this test module (and pytest with it) before running them.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@caliper.remote
class Device:
    def devices(self):
        return os.environ.get("CUDA_VISIBLE_DEVICES"), caliper.get_gpu_ids()


def visible(handles) -> list[tuple[str, list]]:
    return caliper.get([h.devices.remote() for h in handles], timeout=20)


def test_half_gpu_actors_pack_two_per_device(runtime):
    actors = [Device.options(num_gpus=0.5).remote() for _ in range(8)]
    seen = visible(actors)
    for cuda, ids in seen:
        assert len(ids) == 1
        assert cuda == str(ids[0])  # the environment and get_gpu_ids() agree
    assert Counter(ids[0] for _, ids in seen) == Counter([0, 0, 1, 1, 2, 2, 3, 3])
    assert "GPU" not in caliper.available_resources()


def test_fractional_shares_fill_a_device_before_opening_another(runtime):
    quarter = [Device.options(num_gpus=0.25).remote() for _ in range(4)]
    assert {ids[0] for _, ids in visible(quarter)} == {0}
    assert caliper.available_resources()["GPU"] == 3.0


def test_whole_gpu_requests_get_distinct_devices(runtime):
    pair = Device.options(num_gpus=2).remote()
    ((cuda, ids),) = visible([pair])
    assert len(ids) == 2 and len(set(ids)) == 2
    assert cuda == ",".join(map(str, ids))
    other = Device.options(num_gpus=2).remote()
    ((_, other_ids),) = visible([other])
    assert sorted(ids + other_ids) == [0, 1, 2, 3]


def test_whole_gpu_does_not_share_a_partly_used_device(runtime):
    half = Device.options(num_gpus=0.5).remote()
    whole = Device.options(num_gpus=1).remote()
    (_, half_ids), (_, whole_ids) = visible([half, whole])
    assert half_ids != whole_ids


def test_zero_gpus_sees_empty_cuda_visible_devices(runtime):
    actor = Device.remote()
    assert visible([actor]) == [("", [])]

    @caliper.remote
    def task_devices():
        return os.environ.get("CUDA_VISIBLE_DEVICES"), caliper.get_gpu_ids()

    assert caliper.get(task_devices.remote()) == ("", [])
    assert caliper.get_gpu_ids() == []  # the driver has no assigned GPUs


def test_task_gpus_are_visible_and_released(runtime):
    @caliper.remote(num_gpus=1)
    def one():
        return os.environ["CUDA_VISIBLE_DEVICES"], caliper.get_gpu_ids()

    results = caliper.get([one.remote() for _ in range(8)])
    for cuda, ids in results:
        assert len(ids) == 1 and cuda == str(ids[0])
    assert caliper.available_resources()["GPU"] == 4.0


def test_fifth_whole_gpu_waits_until_one_is_freed(runtime):
    actors = [Device.options(num_gpus=1).remote() for _ in range(4)]
    seen = visible(actors)
    assert sorted(ids[0] for _, ids in seen) == [0, 1, 2, 3]

    fifth = Device.options(num_gpus=1).remote()  # fits later: waits, no error
    pending = fifth.devices.remote()
    ready, _ = caliper.wait([pending], timeout=0.3)
    assert ready == []

    victim = 2
    freed = seen[victim][1][0]
    caliper.kill(actors[victim])
    with pytest.raises(ActorDiedError):
        caliper.get(actors[victim].devices.remote(), timeout=10)
    cuda, ids = caliper.get(pending, timeout=10)
    assert ids == [freed] and cuda == str(freed)


def test_restarted_actor_keeps_a_gpu(runtime):
    actor = Device.options(num_gpus=1, max_restarts=1).remote()
    ((_, before),) = visible([actor])
    caliper.kill(actor, no_restart=False)
    for _ in range(50):  # a call sent before the death is seen fails, as in Ray
        try:
            cuda, after = caliper.get(actor.devices.remote(), timeout=10)
            break
        except ActorDiedError:
            pass
    else:
        pytest.fail("the actor did not restart")
    assert len(before) == len(after) == 1 and cuda == str(after[0])
    assert caliper.available_resources()["GPU"] == 3.0
