"""How calls and results travel to other processes.

A call travels as a function id and the pickled ``(args, kwargs)``. Functions are
serialized once per run with cloudpickle (so functions from ``__main__``, lambdas and
closures work); the engine sends those bytes to each pool and each worker once,
before the first call, and a worker unpickles each function once and keeps it by id. Arguments and results use pickle, falling back to
cloudpickle for what pickle cannot do. What neither can do is a
:class:`SerializationError` that names the argument.
"""
import hashlib
import pickle
import struct
import threading
import weakref
from typing import Any, Callable, Dict, List, Tuple

import cloudpickle

from chervil.serialize.errors import DeserializationError, PayloadTooLarge, SerializationError

__all__ = ['serialize', 'deserialize', 'pack_apply_message', 'unpack_apply_message', 'dumps', 'loads', 'pack_call',
           'FunctionCache', 'SerializationError', 'DeserializationError', 'Slot', 'load_spliced', 'SPLICED']

PROTOCOL = pickle.HIGHEST_PROTOCOL

#: The most one call's arguments or one result may pickle to: a frame's 32-bit length,
#: less room for its headers (``chervil_proto::MAX_PAYLOAD``).
MAX_PAYLOAD = 2 ** 32 - 1 - 64 * 1024


def check_size(data: bytes, what: str) -> bytes:
    """``data``, if one message can carry it; else :class:`PayloadTooLarge`."""
    if len(data) > MAX_PAYLOAD:
        raise PayloadTooLarge(what, len(data), MAX_PAYLOAD)
    return data


def dumps(obj: Any, what: str = "a value") -> bytes:
    try:
        return pickle.dumps(obj, protocol=PROTOCOL)
    except Exception:
        pass
    try:
        return cloudpickle.dumps(obj, protocol=PROTOCOL)
    except Exception as e:
        raise SerializationError(what, e) from e


def loads(data: bytes) -> Any:
    return pickle.loads(data)


class FunctionCache:
    """Serialized functions of this run, by function object: each is pickled once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: Dict[int, Tuple[int, bytes]] = {}
        self._refs: Dict[int, Any] = {}

    def get(self, fn: Callable) -> Tuple[int, bytes]:
        """``(function id, pickled function)``; the id is a hash of the bytes."""
        key = id(fn)
        hit = self._by_id.get(key)
        if hit is not None:
            return hit
        name = getattr(fn, '__qualname__', getattr(fn, '__name__', repr(fn)))
        try:
            blob = cloudpickle.dumps(fn, protocol=PROTOCOL)
        except Exception as e:
            raise SerializationError(f"the function {name}", e) from e
        # 63 bits: the id must never be the pipe protocol's "function definition" marker (2**64 - 1)
        entry = (int.from_bytes(hashlib.blake2b(blob, digest_size=8).digest(), 'big') >> 1, blob)
        with self._lock:
            self._by_id[key] = entry
            try:  # forget the entry if the function goes away, so a new one at the same id is not confused with it
                self._refs[key] = weakref.ref(fn, lambda _r, k=key: self._forget(k))
            except TypeError:
                self._refs[key] = fn  # not weak-referenceable (e.g. a partial): keep it alive instead
        return entry

    def _forget(self, key: int) -> None:
        with self._lock:
            self._by_id.pop(key, None)
            self._refs.pop(key, None)


def pack_call(cache: FunctionCache, fn: Callable, args: tuple, kwargs: dict) -> Tuple[int, bytes, bytes]:
    """``(function id, pickled function, pickled arguments)`` for the call ``fn(*args, **kwargs)``.
    The arguments are pickled once, together; only when pickle cannot take them are they
    taken one by one (cloudpickle for lambdas and closures, and an error that names the
    argument at fault)."""
    key, blob = cache.get(fn)
    try:
        data = pickle.dumps((args, kwargs), protocol=PROTOCOL)
    except Exception:
        data = _pack_one_by_one(fn, args, kwargs)
    if len(data) > MAX_PAYLOAD:
        check_size(data, f"the call to {getattr(fn, '__name__', 'the app')}")
    return key, blob, data


def _pack_one_by_one(fn: Callable, args: tuple, kwargs: dict) -> bytes:
    name = getattr(fn, '__name__', 'the app')
    for i, a in enumerate(args):
        _check(a, f"argument {i} of {name}")
    for k, v in kwargs.items():
        _check(v, f"keyword argument {k!r} of {name}")
    return dumps((args, kwargs), what=f"the call to {name}")


def _check(value: Any, what: str) -> None:
    # cheap types need no trial; others are tried alone so the error names the culprit
    if value is None or isinstance(value, (int, float, str, bytes, bool)):
        return
    dumps(value, what=what)


class Slot:
    """Stands, in a call pickled before its dependencies finish, for the result of one
    of them: the ``index``-th result the engine splices in front of the call's bytes
    (see :func:`load_spliced`). The engine launches such a task itself the moment the
    last of its dependencies returns, with no trip through the client's Python."""

    __slots__ = ('index',)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self):
        return _spliced_result, (self.index,)


#: The first byte of a spliced call (a pickle starts with 0x80): then a 4-byte count of
#: results, each a 4-byte length and its bytes, then the pickled call with Slots in it.
#: ``chervil-py``'s ``splice`` module writes it.
SPLICED = 1
_COUNT = struct.Struct('>I')

# The results of the call being unpickled, while :func:`load_spliced` runs (a worker
# runs one task at a time): each is unpickled once, so a result passed twice arrives as
# one object, as it would after the client unpickled and re-pickled it.
_parts: List[Any] = []


def _spliced_result(index: int) -> Any:
    part = _parts[index]
    if isinstance(part, _Raw):
        part = _parts[index] = loads(part.data)
    return part


class _Raw:
    __slots__ = ('data',)

    def __init__(self, data: memoryview) -> None:
        self.data = data


def load_spliced(data) -> Any:
    """Unpickles a call the engine spliced (``data[0] == SPLICED``): each Slot in the
    pickled call becomes the dependency result it stands for."""
    view = memoryview(data)
    (count,) = _COUNT.unpack_from(view, 1)
    at, parts = 5, []
    for _ in range(count):
        (size,) = _COUNT.unpack_from(view, at)
        parts.append(_Raw(view[at + 4:at + 4 + size]))
        at += 4 + size
    global _parts
    _parts = parts
    try:
        return loads(view[at:])
    finally:
        _parts = []


# Parsl's facade (``parsl.serialize.serialize`` and friends), for code that moves objects
# itself: identifier-headed payloads, with serializers that can be registered
# (``chervil.serialize.facade``).
from chervil.serialize.facade import (deserialize, pack_apply_message, serialize,  # noqa: E402
                                      unpack_apply_message)
