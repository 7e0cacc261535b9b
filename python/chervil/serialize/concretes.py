"""The serializers the facade starts with (``parsl.serialize.concretes``), with Parsl's
identifiers, so payloads name their reader as Parsl's do.

``DillSerializer`` and ``DillCallableSerializer`` use ``dill`` when it is installed and
cloudpickle otherwise (Chervil depends on cloudpickle, not dill); both cover what pickle
does not: functions from ``__main__``, closures, lambdas.
"""
import functools
import pickle
from typing import Any

from chervil.serialize.base import SerializerBase


def _dill():
    try:
        import dill
        return dill
    except ImportError:
        import cloudpickle
        return cloudpickle


class PickleSerializer(SerializerBase):
    """The standard library's pickle: importable objects only."""
    identifier = b'01'

    def serialize(self, data: Any) -> bytes:
        return pickle.dumps(data)

    def deserialize(self, body: bytes) -> Any:
        return pickle.loads(body)


class DillSerializer(SerializerBase):
    """Data, including what pickle cannot (functions from ``__main__``, closures)."""
    identifier = b'02'

    def serialize(self, data: Any) -> bytes:
        return _dill().dumps(data)

    def deserialize(self, body: bytes) -> Any:
        return _dill().loads(body)


class DillCallableSerializer(SerializerBase):
    """Functions, cached both ways (a function is taken not to change once defined)."""
    identifier = b'C2'

    @functools.lru_cache
    def serialize(self, data: Any) -> bytes:
        return _dill().dumps(data)

    @functools.lru_cache
    def deserialize(self, body: bytes) -> Any:
        return _dill().loads(body)
