"""Errors of moving objects between processes (Parsl's ``parsl.serialize.errors``)."""
from chervil.errors import ParslError


class SerializationError(ParslError):
    """Something could not be pickled (or unpickled) to cross to another process."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(what, cause)
        self.what = what
        self.cause = cause

    def __str__(self) -> str:
        return (f"{self.what} cannot be sent to another process: {type(self.cause).__name__}: {self.cause}. "
                "Pass data that pickle can copy (not open files, locks, sockets or generators), or run this "
                "app on a ThreadPoolExecutor, which does not copy arguments")


class PayloadTooLarge(SerializationError):
    """A call or a result pickles to more than one message can carry (4 GiB)."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(what, ValueError(f"{size} bytes"))
        self.args = (what, size, limit)  # so it unpickles as itself on the client
        self.size = size
        self.limit = limit

    def __str__(self) -> str:
        return (f"{self.what} pickles to {self.size / 2**30:.2f} GiB, more than the {self.limit / 2**30:.2f} GiB one "
                "message between processes can carry (its length is 32 bits). Write the data to a file and pass "
                "a File (inputs=[File(path)]) or its path, or split it over several tasks")


class DeserializationError(ParslError):
    """Bytes from another process could not be unpickled here."""

    def __init__(self, what: str, cause: BaseException) -> None:
        super().__init__(what, cause)
        self.what = what
        self.cause = cause

    def __str__(self) -> str:
        return (f"{self.what} could not be unpickled: {type(self.cause).__name__}: {self.cause}. "
                "Is the module that defines its type importable here, at the same version as on the workers?")


class DeserializerPluginError(ParslError):
    """A payload names a deserializer that cannot be loaded here."""

    def __init__(self, header: bytes) -> None:
        super().__init__(header)
        self.header = header

    def __str__(self) -> str:
        return f"no deserializer for payload header {self.header!r} can be loaded here"
