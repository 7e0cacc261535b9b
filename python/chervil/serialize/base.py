"""``SerializerBase`` (``parsl.serialize.base``): a way of turning objects into bytes that
the facade (``chervil.serialize.facade``) can be taught."""
from abc import abstractmethod
from functools import cached_property
from typing import Any


class SerializerBase:
    """A serializer. Its ``identifier`` heads each payload it makes (then a newline), so
    the facade knows which serializer reads it back; by default ``b'<module> <class>'``,
    which also lets a process that has not registered it import it to read a payload."""

    @cached_property
    def identifier(self) -> bytes:
        cls = type(self)
        return f"{cls.__module__} {cls.__name__}".encode()

    @abstractmethod
    def serialize(self, data: Any) -> bytes:
        ...

    @abstractmethod
    def deserialize(self, payload: bytes) -> Any:
        ...
