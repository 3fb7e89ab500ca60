"""Turning values, functions and errors into bytes and back.

Values are pickled with cloudpickle so that functions and classes defined in ``__main__`` or a
notebook cell travel by value. Errors travel as ``(function name, exception, traceback text)``
and become a :class:`~caliper.core.exceptions.TaskError` with the remote traceback chained.
"""

from __future__ import annotations

import io
import pickle
import traceback
import types
from collections import ChainMap

import cloudpickle

from caliper.core.exceptions import RemoteTraceback, SerializationError, TaskError
from caliper.core.protocol import Status

_PROTOCOL = pickle.HIGHEST_PROTOCOL


_SIMPLE = frozenset({int, float, str, bytes, bool, type(None)})


def _with_filename(rebuild, args: tuple, filename: str) -> types.CodeType:
    return rebuild(*args).replace(co_filename=filename)


def _reduce_code(code: types.CodeType) -> tuple:
    """cloudpickle's reduction of a code object, keeping its file name: cloudpickle 3.1.3
    and later write ``<dynamic-code>`` instead, and a worker's traceback through a function
    sent by value (one defined in ``__main__``) would then name no file and show no line."""
    rebuild, args = cloudpickle.cloudpickle._code_reduce(code)
    return _with_filename, (rebuild, args, code.co_filename)


class _Pickler(cloudpickle.Pickler):
    if hasattr(cloudpickle.cloudpickle, "_code_reduce"):
        dispatch_table = ChainMap(  # one level, as cloudpickle's own: looked up per object
            {types.CodeType: _reduce_code}, *cloudpickle.Pickler.dispatch_table.maps
        )


def _cloudpickle(value: object) -> bytes:
    with io.BytesIO() as file:
        _Pickler(file, protocol=_PROTOCOL).dump(value)
        return file.getvalue()


def dumps(value: object) -> bytes:
    return _cloudpickle(value)


def dumps_fast(value: object) -> bytes:
    """Like :func:`dumps`, with plain ``pickle`` for builtin scalars (the common result)."""
    if type(value) in _SIMPLE:
        return pickle.dumps(value, _PROTOCOL)
    return _cloudpickle(value)


def dumps_args(args: tuple, kwargs: dict) -> bytes:
    """Pickle call arguments, skipping cloudpickle when every one is a builtin scalar."""
    simple = _SIMPLE
    if all(type(a) in simple for a in args) and all(type(v) in simple for v in kwargs.values()):
        return pickle.dumps((args, kwargs), _PROTOCOL)
    return _cloudpickle((args, kwargs))


def loads(data: bytes) -> object:
    return pickle.loads(data)


def describe_unpicklable(value: object, what: str) -> str:
    """Text naming the part of ``value`` that fails to pickle, for error messages."""
    try:
        dumps(value)
    except Exception as exc:
        return f"{what} cannot be pickled: {type(exc).__name__}: {exc}"
    return f"{what} cannot be pickled"


def pack_exception(function_name: str, exc: BaseException) -> bytes:
    """Serialize an exception raised by user code, with its traceback text."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    exc.__traceback__ = None
    try:
        data = dumps((function_name, exc, text))
        loads(data)  # an exception that pickles may still fail to unpickle (custom __init__)
        return data
    except Exception:
        stand_in = RuntimeError(
            f"{type(exc).__name__}: {exc} (the exception object itself could not be sent "
            "back, so it is shown as this RuntimeError)"
        )
        return dumps((function_name, stand_in, text))


def error_for(status: int, data: bytes) -> BaseException:
    """The exception to raise at ``get`` for an object that ended in an error."""
    try:
        payload = loads(data)
    except Exception as exc:
        return SerializationError(f"the error of a remote call could not be unpickled: {exc}")
    if status == Status.RAISED:
        return payload
    function_name, cause, text = payload
    cause.__cause__ = RemoteTraceback(text)
    err = TaskError(function_name, cause, text).as_instanceof_cause()
    err.__cause__ = cause
    return err


def value_for(status: int, data: bytes) -> object:
    """Deserialize a finished object, raising its error if it ended in one."""
    if status == Status.OK:
        try:
            return loads(data)
        except Exception as exc:
            raise SerializationError(
                f"a result could not be unpickled in this process: {exc}"
            ) from exc
    raise error_for(status, data)


def error_text(status: int, data: bytes) -> str:
    """The error of a failed object as text (exception line and remote traceback)."""
    err = error_for(status, data)
    cause = getattr(err, "cause", None)
    text = getattr(err, "traceback_text", "")
    head = f"{type(cause).__name__}: {cause}" if cause is not None else f"{err}"
    return f"{head}\n\nRemote traceback:\n{text.rstrip()}" if text else head
