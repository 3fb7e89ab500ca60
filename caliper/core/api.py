"""The public core API, with Ray core's names and semantics."""

from __future__ import annotations

import atexit
import math
from collections.abc import Mapping

from caliper.core import context
from caliper.core.actor import NUM_RETURNS_ATTR, ActorClass, ActorHandle
from caliper.core.options import ACTOR_OPTIONS, TASK_OPTIONS, check_names, check_num_returns
from caliper.core.refs import ObjectRef
from caliper.core.remote_function import RemoteFunction
from caliper.core.serialization import dumps, value_for

# Ray arguments that have nothing to configure here; accepted so Ray scripts run unchanged.
_ACCEPTED_NO_OP = frozenset(
    {
        "include_dashboard",
        "logging_level",
        "configure_logging",
        "namespace",
        "object_store_memory",
        "dashboard_host",
        "dashboard_port",
        "logging_format",
    }
)
_INIT_ARGS = frozenset(
    {
        "address",
        "num_cpus",
        "num_gpus",
        "resources",
        "memory",
        "ignore_reinit_error",
        "log_to_driver",
        "runtime_env",
    }
)
_atexit_registered = False


class RuntimeContext:
    """What ``init`` returns; ``with caliper.init(...):`` shuts the runtime down on exit."""

    def __init__(self, resources: dict[str, float], address: str = "local") -> None:
        self.resources = resources
        self.address = address
        self.address_info = {"address": address, "node_id": address}

    def __enter__(self) -> RuntimeContext:
        return self

    def __exit__(self, *exc) -> None:
        shutdown()

    def __repr__(self) -> str:
        return f"RuntimeContext({self.address}, resources={self.resources})"


def _check_amount(name: str, value, *, whole: bool = False) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if whole and value != int(value):
        raise ValueError(f"{name} must be a whole number of devices, got {value!r}")


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: int | None = None,
    resources: Mapping[str, float] | None = None,
    memory: float | None = None,
    ignore_reinit_error: bool = False,
    log_to_driver: bool = True,
    **ray_options,
) -> RuntimeContext:
    """Start the local runtime (called implicitly by the first remote call).

    Args:
        address: ``None`` runs everything on this machine. ``"auto"`` (the cluster started
            on this machine with ``ray start``, or ``RAY_ADDRESS``), ``"host:port"`` or
            ``"ray://host:port"`` connects to a running Ray cluster (needs
            ``caliper[ray]``): tasks, actors and placement groups then run there; the
            resource arguments must be left out (the cluster has its own).
        num_cpus: logical CPUs to schedule on; detected (affinity, cgroup quota) when ``None``.
        num_gpus: logical GPUs; detected from ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi`` when
            ``None``. Declaring more than exist is allowed (handy for tests on CPU machines).
        resources: custom resources, e.g. ``{"accelerator": 2}``.
        memory: bytes of memory to schedule ``memory=`` requests against; detected otherwise.
        ignore_reinit_error: make a second ``init`` a no-op instead of an error.
        log_to_driver: print what tasks and actors write to stdout/stderr in this process,
            each line prefixed with ``(name pid=N)`` (so it shows in a notebook too); with
            ``False`` workers write straight to the terminal this process inherited.
        **ray_options: Ray arguments with nothing to configure here (``include_dashboard``,
            ``logging_level``, ``configure_logging``, ``namespace``, ``object_store_memory``,
            ``dashboard_host``, ``dashboard_port``, ``logging_format``); any other name raises
            ``TypeError``.
    """
    global _atexit_registered
    with context.init_lock:
        check_names(ray_options, _ACCEPTED_NO_OP | _INIT_ARGS, "caliper.init()")
        if context.peek() is not None:
            if ignore_reinit_error:
                return RuntimeContext(cluster_resources())
            raise RuntimeError(
                "caliper.init() was already called in this process; call caliper.shutdown() "
                "first, or pass ignore_reinit_error=True"
            )
        if address is not None:
            given = {"num_cpus": num_cpus, "num_gpus": num_gpus, "resources": resources}
            given["memory"] = memory
            named = [k for k, v in given.items() if v is not None]
            if named:
                raise ValueError(
                    f"caliper.init(address={address!r}) connects to a cluster, which has its own "
                    f"resources: leave out {', '.join(named)}"
                )
            return _connect(address, log_to_driver, ray_options)
        if "runtime_env" in ray_options:
            raise ValueError(
                "runtime_env applies to trials on a Ray cluster: give it with address=..."
            )
        _check_amount("num_cpus", num_cpus)
        _check_amount("num_gpus", num_gpus, whole=True)
        _check_amount("memory", memory)
        if resources is not None and not isinstance(resources, Mapping):
            raise TypeError(f"resources must be a dict of name -> amount, got {resources!r}")
        if not isinstance(log_to_driver, bool):
            raise TypeError(f"log_to_driver must be a bool, got {log_to_driver!r}")
        from caliper.core.zygote import launch_zygote

        launched = launch_zygote()  # boots while the rest of init runs
        try:
            backend = _local_backend(num_cpus, num_gpus, memory, resources, launched, log_to_driver)
        except BaseException:
            launched[0].kill()
            launched[1].close()
            raise
        context.set_backend(backend)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        return RuntimeContext(cluster_resources())


def _connect(address: str, log_to_driver: bool, ray_options: dict) -> RuntimeContext:
    """Connect to the Ray cluster at ``address`` and install the Ray backend."""
    global _atexit_registered
    from caliper.core import ray_connect, refs

    if address != "auto":
        ray_connect.split_host_port(ray_connect.resolve_address(address))  # the form first
    ray = ray_connect.import_ray()
    owns_ray = not ray.is_initialized()
    if owns_ray:
        concrete = ray_connect.resolve_address(address)
        ray_connect.check_answers(concrete)
        kwargs = {k: ray_options[k] for k in ("namespace", "runtime_env") if k in ray_options}
        ray.init(address=concrete, log_to_driver=log_to_driver, **kwargs)
    else:
        concrete = address
    from caliper.core.ray_backend import RayBackend, start_hub

    try:
        hub = start_hub()
    except BaseException:
        if owns_ray:
            ray.shutdown()
        raise
    backend = RayBackend(hub, driver=True)
    backend.owns_ray = owns_ray
    context.set_backend(backend)
    refs.set_tracker(backend.tracker)
    if not _atexit_registered:
        atexit.register(shutdown)
        _atexit_registered = True
    return RuntimeContext(cluster_resources(), concrete)


def _local_backend(num_cpus, num_gpus, memory, resources, launched, log_to_driver):
    """Detect what the user did not give and build the local backend around ``launched``."""
    from caliper.core.detect import detect_cpus, detect_gpus, detect_memory
    from caliper.core.local_backend import LocalBackend
    from caliper.core.resources import NodeResources

    cpus = detect_cpus() if num_cpus is None else num_cpus
    detected = list(detect_gpus())
    if num_gpus is None:
        gpu_names = detected
    elif len(detected) >= num_gpus:
        gpu_names = detected[: int(num_gpus)]
    else:
        gpu_names = [str(i) for i in range(int(num_gpus))]
    node = NodeResources.create(
        "local",
        num_cpus=cpus,
        num_gpus=len(gpu_names),
        memory=detect_memory() if memory is None else memory,
        resources=resources,
    )
    backend = LocalBackend(node, gpu_names, max(2, math.ceil(cpus)), launched, log_to_driver)
    return backend


def preload(*modules: str) -> None:
    """Have workers started from now on import ``modules`` before they run anything (the
    worker template imports them at once, in parallel with this process)."""
    context.current().preload(list(modules))


def is_initialized() -> bool:
    """Whether a runtime is running in this process."""
    return context.peek() is not None


def shutdown() -> None:
    """Stop the runtime: every worker process started by it is killed."""
    with context.init_lock:
        backend = context.peek()
        if backend is None:
            return
        backend.shutdown()
        context.set_backend(None)


def remote(*args, **options):
    """Make a function a remote function, or a class an actor class.

    Use as ``@caliper.remote`` or ``@caliper.remote(num_cpus=2, num_gpus=0.5, ...)``.
    """
    if len(args) == 1 and not options and (isinstance(args[0], type) or callable(args[0])):
        return _make(args[0], {})
    if args:
        raise TypeError(
            "@caliper.remote takes a function or a class, or only keyword options, "
            "e.g. @caliper.remote(num_cpus=2)"
        )
    check_names(options, TASK_OPTIONS | ACTOR_OPTIONS, "@caliper.remote")
    return lambda obj: _make(obj, options)


def _make(obj, options: dict):
    if isinstance(obj, type):
        return ActorClass(obj, options)
    if callable(obj):
        return RemoteFunction(obj, options)
    raise TypeError(f"@caliper.remote needs a function or a class, got {type(obj).__name__}")


def _check_timeout(timeout) -> None:
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be None or a number of seconds, got {timeout!r}")
    if not timeout >= 0:
        raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")


def _check_refs(object_refs, fn: str) -> list[ObjectRef]:
    if isinstance(object_refs, list | tuple):
        for i, ref in enumerate(object_refs):
            if not isinstance(ref, ObjectRef):
                raise TypeError(f"{fn}() expects ObjectRefs; item {i} is a {type(ref).__name__}")
        return list(object_refs)
    raise TypeError(
        f"{fn}() expects an ObjectRef or a list of ObjectRefs, got {type(object_refs).__name__}"
    )


def get(object_refs, *, timeout: float | None = None):
    """The value(s) of ``object_refs`` (one ref or a list), blocking until ready.

    Raises the error of the first ref that failed (``TaskError`` deriving from the user's
    exception type, ``WorkerCrashedError``, ``ActorDiedError``...), or ``GetTimeoutError``.
    """
    single = isinstance(object_refs, ObjectRef)
    refs_list = [object_refs] if single else _check_refs(object_refs, "get")
    _check_timeout(timeout)
    if not refs_list:
        return []
    results = context.current().get([r.id for r in refs_list], timeout)
    values = [value_for(status, data) for status, data in results]
    return values[0] if single else values


def wait(
    object_refs: list[ObjectRef],
    *,
    num_returns: int = 1,
    timeout: float | None = None,
    fetch_local: bool = True,
) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Split ``object_refs`` into ``(ready, not_ready)``, keeping their order.

    Returns once ``num_returns`` refs are ready or ``timeout`` seconds have passed; ``ready``
    holds at most ``num_returns`` refs.
    """
    if isinstance(object_refs, ObjectRef) or not isinstance(object_refs, list | tuple):
        raise TypeError(f"wait() expects a list of ObjectRefs, got {type(object_refs).__name__}")
    refs_list = _check_refs(object_refs, "wait")
    if len({r.id for r in refs_list}) != len(refs_list):
        raise ValueError("wait() got the same ObjectRef more than once")
    if isinstance(num_returns, bool) or not isinstance(num_returns, int):
        raise TypeError(f"num_returns must be an int, got {num_returns!r}")
    if not 1 <= num_returns <= max(1, len(refs_list)):
        raise ValueError(
            f"num_returns must be between 1 and the number of refs ({len(refs_list)}), "
            f"got {num_returns}"
        )
    _check_timeout(timeout)
    if not refs_list:
        return [], []
    done = context.current().wait([r.id for r in refs_list], num_returns, timeout)
    ready, not_ready = [], []
    for ref in refs_list:
        (ready if ref.id in done and len(ready) < num_returns else not_ready).append(ref)
    return ready, not_ready


def put(value: object) -> ObjectRef:
    """Store a copy of ``value`` (taken now) and return a ref to it."""
    if isinstance(value, ObjectRef):
        raise TypeError("put() of an ObjectRef is not allowed; pass the ref itself")
    backend = context.current()
    data = dumps(value)
    obj_id = backend.new_id()
    ref = ObjectRef(obj_id)
    backend.put(obj_id, data)
    return ref


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Kill ``actor``'s process now; its pending calls fail with ``ActorDiedError``.

    With ``no_restart=False`` the actor restarts if it has ``max_restarts`` left.
    """
    if not isinstance(actor, ActorHandle):
        raise TypeError(f"kill() expects an actor handle, got {type(actor).__name__}")
    if not isinstance(no_restart, bool):
        raise TypeError(f"no_restart must be a bool, got {no_restart!r}")
    context.current().kill_actor(actor._caliper_actor_id, no_restart)


def method(*, num_returns: int = 1):
    """Decorate an actor method, as Ray's ``ray.method``: ``@caliper.method(num_returns=2)``
    makes ``handle.m.remote()`` return two refs."""
    n = check_num_returns(num_returns)

    def decorate(fn):
        setattr(fn, NUM_RETURNS_ATTR, n)
        return fn

    return decorate


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor created with ``.options(name=name)``.

    Raises:
        ValueError: no live actor has that name.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    backend = context.current()
    found = backend.lookup_actor(name)
    if found is None:
        raise ValueError(f"no live actor is named {name!r}")
    # the driver counts this handle with the creator's; a worker keeps the actor pinned
    return ActorHandle(*found, owned=backend.counts_actor_handles)


def cancel(object_ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task (or queued actor call) behind ``object_ref``, as Ray's ``ray.cancel``.

    A task that has not started is dropped; a running one gets ``TaskCancelledError`` raised
    where it is, or with ``force=True`` its worker process is killed. An actor call already
    running is not interrupted. ``get`` of a cancelled ref raises ``TaskCancelledError``; a
    task that finished first keeps its result. ``recursive`` is accepted for Ray's sake:
    tasks the cancelled one started are not cancelled.
    """
    if not isinstance(object_ref, ObjectRef):
        raise TypeError(f"cancel() expects an ObjectRef, got {type(object_ref).__name__}")
    if not isinstance(force, bool):
        raise TypeError(f"force must be a bool, got {force!r}")
    context.current().cancel(object_ref.id, force)


def get_gpu_ids() -> list[int | str]:
    """The GPUs assigned to the calling worker (as ``CUDA_VISIBLE_DEVICES`` names them)."""
    backend = context.peek()
    return [] if backend is None else backend.gpu_ids()


def cluster_resources() -> dict[str, float]:
    """Total resources of the runtime, e.g. ``{"CPU": 2.0, "GPU": 4.0, "memory": ...}``."""
    return context.current().resources()[0]


def is_local() -> bool:
    """Whether tasks and actors run on this machine (the embedded runtime), not a cluster."""
    return context.current().nodes() is None


def nodes() -> list[dict]:
    """The nodes of the runtime, as Ray's ``ray.nodes()`` lists them (this machine, or the
    Ray cluster's nodes when connected to one)."""
    from caliper.core.detect import hostname

    listed = context.current().nodes()
    if listed is not None:
        return listed

    return [
        {
            "NodeID": "local",
            "Alive": True,
            "NodeManagerAddress": "127.0.0.1",
            "NodeManagerHostname": hostname(),
            "Resources": cluster_resources(),
        }
    ]


def available_resources() -> dict[str, float]:
    """Resources free now (resources with nothing free are left out, as in Ray)."""
    return context.current().resources()[1]
