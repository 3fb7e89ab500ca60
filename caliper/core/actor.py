"""``@caliper.remote`` on a class: ``Cls.remote(...)`` starts an actor in its own worker."""

from __future__ import annotations

from caliper.core import context
from caliper.core.exceptions import SerializationError
from caliper.core.options import ACTOR_OPTIONS, check_names, check_num_returns, resolve
from caliper.core.refs import ObjectRef
from caliper.core.remote_function import failed_ref, pack_arguments
from caliper.core.serialization import describe_unpicklable, dumps
from caliper.core.specs import ActorSpec, CallSpec

NUM_RETURNS_ATTR = "__caliper_num_returns__"


def _method_table(cls: type) -> dict[str, int]:
    """Callable attributes of ``cls`` that can be called remotely, with their num_returns."""
    table = {}
    for name in dir(cls):
        fn = getattr(cls, name, None)
        if callable(fn) and (not name.startswith("__") or name == "__call__"):
            table[name] = getattr(fn, NUM_RETURNS_ATTR, 1)
    return table


class ActorMethod:
    """``handle.method``: call ``.remote(*args)`` to run it on the actor, in submission order."""

    __slots__ = ("_actor_id", "_class_name", "_name", "_num_returns")

    def __init__(self, actor_id: int, class_name: str, name: str, num_returns: int = 1) -> None:
        self._actor_id = actor_id  # not the handle: caching this in it must not form a cycle
        self._class_name = class_name
        self._name = name
        self._num_returns = num_returns

    def options(self, **options) -> ActorMethod:
        """A copy with another ``num_returns`` (the only per-call option)."""
        check_names(options, frozenset({"num_returns"}), f"{self._name}.options()")
        n = check_num_returns(options.get("num_returns", self._num_returns))
        return ActorMethod(self._actor_id, self._class_name, self._name, n)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"actor method {self._name} cannot be called directly; use .{self._name}.remote(...)"
        )

    def remote(self, *args, **kwargs) -> ObjectRef | list[ObjectRef]:
        """Queue the call; a ref to its result (``num_returns`` refs when above 1)."""
        backend = context.current()
        try:
            args_blob, deps = pack_arguments(args, kwargs, f"{self._class_name}.{self._name}")
        except SerializationError as exc:
            return failed_ref(backend, exc)
        obj_id = backend.new_id()
        ref = ObjectRef(obj_id)
        if self._num_returns == 1:
            backend.submit_call(CallSpec(obj_id, self._actor_id, self._name, args_blob, deps))
            return ref
        extra = tuple(backend.new_id() for _ in range(self._num_returns - 1))
        refs = [ref, *(ObjectRef(i) for i in extra)]
        backend.submit_call(CallSpec(obj_id, self._actor_id, self._name, args_blob, deps, extra))
        return refs


class ActorHandle:
    """A handle to a running actor. When the process that created the actor drops its last
    handle, the actor ends (after answering the calls already made); a handle that was pickled
    (passed to a task, returned, stored) keeps it alive, as do handles from ``get_actor``."""

    def __init__(
        self, actor_id: int, class_name: str, methods: dict[str, int], owned: bool = False
    ) -> None:
        self._caliper_actor_id = actor_id
        self._caliper_class_name = class_name
        self._caliper_methods = methods
        self._caliper_tracker = None
        if owned:
            self._caliper_tracker = getattr(context.peek(), "actor_tracker", None)
            if self._caliper_tracker is not None:
                self._caliper_tracker.add(actor_id)

    def __getattr__(self, name: str) -> ActorMethod:
        if name.startswith("_caliper_") or (
            name.startswith("_") and name not in self.__dict__.get("_caliper_methods", ())
        ):
            raise AttributeError(name)
        if name not in self._caliper_methods:
            raise AttributeError(f"actor {self._caliper_class_name} has no method {name!r}")
        method = ActorMethod(
            self._caliper_actor_id, self._caliper_class_name, name, self._caliper_methods[name]
        )
        self.__dict__[name] = method  # later lookups skip __getattr__
        return method

    def __del__(self) -> None:
        tracker = self.__dict__.get("_caliper_tracker")
        if tracker is not None:
            tracker.released.append(self._caliper_actor_id)

    def __reduce__(self):
        if self._caliper_tracker is not None:
            self._caliper_tracker.pin(self._caliper_actor_id)
        return (
            ActorHandle,
            (self._caliper_actor_id, self._caliper_class_name, self._caliper_methods),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._caliper_actor_id == self._caliper_actor_id

    def __hash__(self) -> int:
        return hash(("ActorHandle", self._caliper_actor_id))

    def __repr__(self) -> str:
        return f"Actor({self._caliper_class_name}, {self._caliper_actor_id:016x})"


class ActorClass:
    """A class whose instances live in worker processes: ``Cls.remote(...)`` starts one."""

    def __init__(self, cls: type, options: dict, shipped: list | None = None) -> None:
        self._cls = cls
        self._options = dict(options)
        self._resolved = resolve(self._options, actor=True)
        self._methods = _method_table(cls)
        self._shipped = shipped if shipped is not None else [None]
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__doc__ = cls.__doc__
        self.__module__ = cls.__module__

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"actor class {self._cls.__qualname__} cannot be instantiated directly; "
            f"use {self._cls.__name__}.remote(...)"
        )

    def options(self, **options) -> ActorClass:
        """A copy with these options overriding the decorator's."""
        check_names(options, ACTOR_OPTIONS, f"{self._cls.__qualname__}.options()")
        return ActorClass(self._cls, {**self._options, **options}, self._shipped)

    def _blob(self) -> bytes:
        if self._shipped[0] is None:
            try:
                self._shipped[0] = dumps(self._cls)
            except Exception:
                raise SerializationError(
                    describe_unpicklable(self._cls, f"actor class {self._cls.__qualname__}")
                ) from None
        return self._shipped[0]

    def remote(self, *args, **kwargs) -> ActorHandle:
        backend = context.current()
        name = self._cls.__qualname__
        r = self._resolved
        if r.get_if_exists:
            found = backend.lookup_actor(r.name)
            if found is not None:
                return ActorHandle(*found, owned=backend.counts_actor_handles)
        actor_id = backend.new_id()
        handle = ActorHandle(actor_id, name, self._methods, owned=not r.detached)
        try:
            args_blob, deps = pack_arguments(args, kwargs, f"{name}.__init__")
        except SerializationError:
            raise
        spec = ActorSpec(
            actor_id=actor_id,
            obj_id=backend.new_id(),
            cls_blob=self._blob(),
            name=name,
            args_blob=args_blob,
            deps=deps,
            request=r.request,
            placement=r.placement,
            max_restarts=r.max_restarts,
            registered_name=r.name,
            methods=self._methods,
        )
        backend.create_actor(spec)
        return handle
