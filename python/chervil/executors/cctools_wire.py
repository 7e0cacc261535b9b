"""The messages between a Work Queue/TaskVine executor and its manager process: each a
pickle behind its length (4 bytes, big-endian). Both ends are Chervil of one version."""
import pickle
import struct
from typing import Any, Optional

_HEADER = struct.Struct('!I')


def write_message(out, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def read_message(inp) -> Optional[Any]:
    """The next message, or None at the end of the stream."""
    header = inp.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = inp.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)
