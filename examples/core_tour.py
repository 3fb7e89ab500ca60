"""A tour of caliper's embedded runtime: tasks, actors, wait, put, placement groups, logical
GPUs and failures. Runs in a few seconds on any machine (no GPU needed):

    python examples/core_tour.py
"""

import os
import tempfile

import numpy as np

import caliper
from caliper.exceptions import ActorDiedError, TaskError, WorkerCrashedError
from caliper.util import placement_group, remove_placement_group

# Two logical GPUs, whatever this machine has: scheduling and CUDA_VISIBLE_DEVICES behave as
# they would with two real devices.
caliper.init(num_gpus=2)
total = caliper.cluster_resources()
print(f"runtime: {total['CPU']:g} CPUs, {total['GPU']:g} GPUs (logical)")


# -- 1. Parallel tasks, consumed as they finish ---------------------------------------------


@caliper.remote
def hits_in_circle(samples: int, seed: int) -> int:
    """Monte-Carlo: how many random points of the unit square fall in the quarter circle."""
    xy = np.random.default_rng(seed).random((samples, 2))
    return int(((xy**2).sum(axis=1) <= 1.0).sum())


SAMPLES = 1_000_000
pending = [hits_in_circle.remote(SAMPLES, seed) for seed in range(4)]
hits = done = 0
while pending:
    ready, pending = caliper.wait(pending, num_returns=1)
    hits += caliper.get(ready[0])
    done += 1
    print(f"  {done} of 4 tasks done: pi ~ {4 * hits / (done * SAMPLES):.5f}")
print(f"1. pi over 4 tasks: {4 * hits / (4 * SAMPLES):.5f}")


# -- 2. An actor keeps state between calls --------------------------------------------------


@caliper.remote
class RunningMean:
    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0

    def add(self, value: float) -> float:
        self.count += 1
        self.total += value
        return self.total / self.count

    def pid(self) -> int:
        return os.getpid()


stats = RunningMean.remote()
means = caliper.get([stats.add.remote(v) for v in (3.0, 5.0, 10.0)])  # run in call order
print(f"2. running means from one actor (pid {caliper.get(stats.pid.remote())}): {means}")


# -- 3. put: store a value once, pass the ref to many tasks ---------------------------------


@caliper.remote
def column_mean(matrix: np.ndarray, column: int) -> float:
    return float(matrix[:, column].mean())


matrix_ref = caliper.put(np.arange(12.0).reshape(4, 3))
print(f"3. column means: {caliper.get([column_mean.remote(matrix_ref, c) for c in range(3)])}")


# -- 4. A placement group reserves bundles together; actors go into its bundles --------------


@caliper.remote(num_cpus=1)
class Shard:
    def __init__(self, index: int) -> None:
        self.index = index

    def where(self) -> str:
        return f"shard {self.index} in pid {os.getpid()}"


pg = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="PACK")
caliper.get(pg.ready())
shards = [
    Shard.options(placement_group=pg, placement_group_bundle_index=i).remote(i) for i in (0, 1)
]
print(f"4. placement group of {pg.bundle_count} bundles ({pg.strategy}):")
for line in caliper.get([s.where.remote() for s in shards]):
    print(f"  {line}")
remove_placement_group(pg)  # frees the bundles and stops the actors placed in them
print(f"  after removal, CPUs available: {caliper.available_resources().get('CPU', 0):g}")


# -- 5. Logical GPUs: half-GPU actors share a device ----------------------------------------


@caliper.remote
class GpuWorker:
    def devices(self) -> tuple[str, list]:
        return os.environ["CUDA_VISIBLE_DEVICES"], caliper.get_gpu_ids()


half_gpu = [GpuWorker.options(num_gpus=0.5).remote() for _ in range(4)]
no_gpu = GpuWorker.remote()
print("5. four actors with num_gpus=0.5, then one without a GPU:")
for i, (cuda, ids) in enumerate(caliper.get([a.devices.remote() for a in [*half_gpu, no_gpu]])):
    print(f"  actor {i}: CUDA_VISIBLE_DEVICES={cuda!r:5} get_gpu_ids()={ids}")
for actor in half_gpu:
    caliper.kill(actor)


# -- 6. Failures are typed errors -----------------------------------------------------------


@caliper.remote
def parse(text: str) -> int:
    return int(text)


try:
    caliper.get(parse.remote("forty-two"))
except ValueError as err:  # the error derives from TaskError and from the user's ValueError
    is_task_error = isinstance(err, TaskError)
    print(f"6. except ValueError caught {type(err).__name__} (a TaskError: {is_task_error})")


@caliper.remote(max_retries=0)
def crash() -> None:
    os._exit(3)


try:
    caliper.get(crash.remote())
except WorkerCrashedError as err:
    print(f"  WorkerCrashedError: exit code {err.exitcode}")


@caliper.remote(max_retries=2)
def flaky(marker: str) -> str:
    # Dies the first time it runs (the marker file does not exist yet), succeeds on retry.
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return "succeeded on a retry"


marker = os.path.join(tempfile.gettempdir(), f"caliper_core_tour_{os.getpid()}")
try:
    print(f"  flaky task with max_retries=2: {caliper.get(flaky.remote(marker))}")
finally:
    if os.path.exists(marker):
        os.remove(marker)


@caliper.remote(max_restarts=1)
class Fragile:
    def __init__(self) -> None:
        self.calls = 0

    def call(self) -> tuple[int, int]:
        self.calls += 1
        return os.getpid(), self.calls

    def die(self) -> None:
        os._exit(1)


fragile = Fragile.remote()
print(f"  Fragile actor (pid, calls so far): {caliper.get(fragile.call.remote())}")
try:
    caliper.get(fragile.die.remote())
except ActorDiedError:
    print("  its process died during a call: ActorDiedError; max_restarts=1 restarts it")
print(f"  restarted, with fresh state: {caliper.get(fragile.call.remote())}")
caliper.kill(fragile)
try:
    caliper.get(fragile.call.remote())
except ActorDiedError as err:
    print(f"  after kill(): {err}")


# -- 7. shutdown() leaves no process behind --------------------------------------------------


@caliper.remote
def worker_pid() -> int:
    return os.getpid()


pids = {caliper.get(stats.pid.remote()), *caliper.get([worker_pid.remote() for _ in range(4)])}
caliper.shutdown()  # kills every worker process and waits until they are gone


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


print(f"7. after shutdown(): {sum(map(alive, pids))} of {len(pids)} worker processes alive")
