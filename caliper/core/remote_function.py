"""``@caliper.remote`` on a function: ``f.remote(...)`` runs it as a task in a worker."""

from __future__ import annotations

import functools

from caliper.core import context
from caliper.core.exceptions import SerializationError
from caliper.core.options import TASK_OPTIONS, check_names, resolve
from caliper.core.protocol import Status
from caliper.core.refs import ObjectRef
from caliper.core.serialization import describe_unpicklable, dumps, dumps_args
from caliper.core.specs import Dep, TaskSpec

_NO_ARGS = dumps(((), {}))


def pack_arguments(args: tuple, kwargs: dict, what: str) -> tuple[bytes, tuple[int, ...]]:
    """Pickle call arguments; top-level ``ObjectRef`` arguments become dependencies.

    Raises:
        SerializationError: an argument cannot be pickled (the message names it).
    """
    if not args and not kwargs:
        return _NO_ARGS, ()
    deps: list[int] = []

    def swap(value):
        if type(value) is ObjectRef:
            deps.append(value.id)
            return Dep(len(deps) - 1)
        return value

    if any(type(a) is ObjectRef for a in args) or any(
        type(v) is ObjectRef for v in kwargs.values()
    ):
        args = tuple(swap(a) for a in args)
        kwargs = {k: swap(v) for k, v in kwargs.items()}
    try:
        return dumps_args(args, kwargs), tuple(deps)
    except Exception:
        named = [(f"argument {i}", a) for i, a in enumerate(args)]
        named += [(f"keyword argument {k!r}", v) for k, v in kwargs.items()]
        for label, value in named:
            try:
                dumps(value)
            except Exception:
                raise SerializationError(
                    describe_unpicklable(value, f"{label} of {what}")
                ) from None
        raise


def failed_ref(backend, error: BaseException) -> ObjectRef:
    """A ref whose ``get`` raises ``error`` (how argument errors reach the caller)."""
    obj_id = backend.new_id()
    ref = ObjectRef(obj_id)
    backend.put(obj_id, dumps(error), int(Status.RAISED))
    return ref


class _Shipped:
    """The pickled function, made once and shared by every ``.options()`` variant."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.fn_id: int | None = None
        self.blob: bytes | None = None

    def get(self, backend) -> tuple[int, bytes]:
        if self.blob is None:
            name = getattr(self.fn, "__qualname__", repr(self.fn))
            try:
                self.blob = dumps(self.fn)
            except Exception:
                raise SerializationError(
                    describe_unpicklable(self.fn, f"remote function {name}")
                ) from None
            self.fn_id = backend.new_id()
        return self.fn_id, self.blob

    def __getstate__(self):
        return {"fn": self.fn, "fn_id": self.fn_id, "blob": None}


class RemoteFunction:
    """A function that runs remotely: call ``.remote(*args, **kwargs)`` to get an ObjectRef."""

    def __init__(self, fn, options: dict, shipped: _Shipped | None = None) -> None:
        self._fn = fn
        self._options = dict(options)
        self._resolved = resolve(self._options, actor=False)
        self._shipped = shipped or _Shipped(fn)
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"remote function {self._fn.__qualname__} cannot be called directly; "
            f"use {self._fn.__name__}.remote(...)"
        )

    def options(self, **options) -> RemoteFunction:
        """A copy with these options overriding the decorator's."""
        check_names(options, TASK_OPTIONS, f"{self._fn.__qualname__}.options()")
        return RemoteFunction(self._fn, {**self._options, **options}, self._shipped)

    def remote(self, *args, **kwargs) -> ObjectRef | list[ObjectRef]:
        """Run the function as a task; a ref to its result (a list of ``num_returns`` refs
        when that option is above 1)."""
        backend = context.current()
        name = self._resolved.name or self._fn.__qualname__
        fn_id, blob = self._shipped.get(backend)
        try:
            args_blob, deps = pack_arguments(args, kwargs, name)
        except SerializationError as exc:
            return failed_ref(backend, exc)
        r = self._resolved
        obj_id = backend.new_id()
        extra_ids = tuple(backend.new_id() for _ in range(r.num_returns - 1))
        spec = TaskSpec(
            obj_id=obj_id,
            fn_id=fn_id,
            fn_blob=blob,
            name=name,
            args_blob=args_blob,
            deps=deps,
            request=r.request,
            placement=r.placement,
            max_retries=r.max_retries,
            retry_exceptions=r.retry_exceptions,
            extra_ids=extra_ids,
        )
        ref = ObjectRef(obj_id)
        if not extra_ids:
            backend.submit_task(spec)
            return ref
        refs = [ref, *(ObjectRef(i) for i in extra_ids)]
        backend.submit_task(spec)
        return refs
