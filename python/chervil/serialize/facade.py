"""Parsl's serialization facade (``parsl.serialize.facade``), for code that moves objects
itself (``serialize``/``deserialize``, ``pack_apply_message``) and for plugins that teach
it new serializers (``register_method_for_data``, ``register_method_for_code``).

A payload is the serializer's identifier, a newline, and its bytes; ``deserialize`` reads
the identifier to pick the serializer — a registered one, or one it imports by its
``'<module> <class>'`` identifier. ``serialize`` tries the registered serializers for the
kind of object (code: callables; data: the rest), newest first, and uses the first that
succeeds.

Chervil's own task path does not go through the facade: calls and results travel as
pickles (cloudpickle for functions) in the engine's frames (``chervil.serialize``), so a
serializer registered here changes what these functions do, not how tasks travel.
"""
import importlib
import logging
from typing import Any, Dict, List

from chervil.serialize import concretes
from chervil.serialize.base import SerializerBase
from chervil.serialize.errors import DeserializerPluginError

logger = logging.getLogger(__name__)

methods_for_code: Dict[bytes, SerializerBase] = {}
methods_for_data: Dict[bytes, SerializerBase] = {}
# Read-only serializers found by identifier while deserializing (never used to write).
additional_methods_for_deserialization: Dict[bytes, SerializerBase] = {}


def _newest_first(methods: Dict[bytes, SerializerBase], s: SerializerBase) -> None:
    methods.pop(s.identifier, None)
    items = [(s.identifier, s), *methods.items()]
    methods.clear()
    methods.update(items)


def register_method_for_code(s: SerializerBase) -> None:
    """Tries ``s`` first for callables."""
    _newest_first(methods_for_code, s)


def register_method_for_data(s: SerializerBase) -> None:
    """Tries ``s`` first for everything that is not callable."""
    _newest_first(methods_for_data, s)


register_method_for_code(concretes.DillCallableSerializer())
register_method_for_data(concretes.DillSerializer())


def serialize(obj: Any, buffer_threshold: int = int(1e6)) -> bytes:
    """``obj`` as a payload: identifier, newline, bytes. Raises the last serializer's
    error if none can do it; logs a warning past ``buffer_threshold`` bytes."""
    methods = methods_for_code if callable(obj) else methods_for_data
    error: BaseException = TypeError(f"no serializer is registered for {type(obj).__name__}")
    for method in methods.values():
        try:
            payload = method.identifier + b'\n' + method.serialize(obj)
        except Exception as e:
            error = e
            continue
        if len(payload) > buffer_threshold:
            logger.warning("a serialized %s is %d bytes, over the buffer threshold of %d",
                           type(obj).__name__, len(payload), buffer_threshold)
        return payload
    raise error


def deserialize(payload: bytes) -> Any:
    """The object a :func:`serialize` payload holds."""
    header, body = payload.split(b'\n', 1)
    method = methods_for_code.get(header) or methods_for_data.get(header) or \
        additional_methods_for_deserialization.get(header)
    if method is None:
        try:
            module, cls = header.split(b' ', 1)
            method = getattr(importlib.import_module(module.decode()), cls.decode())()
        except Exception as e:
            raise DeserializerPluginError(header) from e
        additional_methods_for_deserialization[header] = method
    return method.deserialize(body)


def pack_buffers(buffers: List[bytes]) -> bytes:
    """Buffers as one: each as its length in decimal, a newline, then its bytes."""
    return b''.join(str(len(b)).encode() + b'\n' + b for b in buffers)


def unpack_buffers(packed_buffer: bytes) -> List[bytes]:
    """:func:`pack_buffers` undone."""
    out = []
    rest = packed_buffer
    while rest:
        length, rest = rest.split(b'\n', 1)
        n = int(length)
        out.append(rest[:n])
        rest = rest[n:]
    return out


def unpack_and_deserialize(packed_buffer: bytes) -> Any:
    """``[func, args, kwargs]`` from a :func:`pack_apply_message` payload."""
    return [deserialize(b) for b in unpack_buffers(packed_buffer)]


def pack_apply_message(func: Any, args: Any, kwargs: Any, buffer_threshold: int = int(128 * 1e6)) -> bytes:
    """A call (function, positional and keyword arguments) as one payload."""
    return pack_buffers([serialize(func, buffer_threshold), serialize(args, buffer_threshold),
                         serialize(kwargs, buffer_threshold)])


def unpack_apply_message(packed_buffer: bytes) -> List[Any]:
    """``[func, args, kwargs]`` from :func:`pack_apply_message`."""
    return unpack_and_deserialize(packed_buffer)
