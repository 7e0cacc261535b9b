"""``python -m chervil.worker``: one worker process, fed by its pool over pipes.

The pool's pipes arrive as stdin (frames from the pool) and stdout (frames back); the
worker moves both to private descriptors at once (closed on exec, so no program a task
starts inherits them) and gives fd 0 ``/dev/null`` and fd 1 its stderr: a task that
reads stdin (a bash app's ``cat``) gets end-of-input as under Parsl, and neither it nor
its children can read or write the protocol by accident. Each frame
is a 4-byte big-endian length and a body (see ``chervil-proto``'s ``worker`` module):
to the worker, an 8-byte task id, the 8-byte id of the function to call and the
pickled ``(args, kwargs)``, or the engine's splice of it with its dependencies' results
(``chervil.serialize.load_spliced``) (or, with the task id 2**64-1, a function id and the
pickled function, sent once before its first call); from the worker, the task id,
an outcome byte (0 result, 1 exception) and the pickled value. Whatever the app itself
prints goes to stderr, so it can never corrupt the stream.
"""
import os
import struct
import sys
import traceback

OK, ERR = 0, 1
_HEAD = struct.Struct(">I")
_IDS = struct.Struct(">QQ")
FUNCTION_DEF = 2 ** 64 - 1
TASK_ENV = 2 ** 64 - 2  # environment variables for the next task only (an MPI task's prefix)


# From this size on, a frame is read into one buffer of its size and its call unpickled
# from a view of it, and a reply is written as its parts: a call or a result of hundreds of
# megabytes is not copied again on its way through the worker. (The engine's
# chervil_proto::LARGE_PAYLOAD, the same size.)
_LARGE = 64 * 1024


def _read_exact(stream, n: int):
    if n >= _LARGE:
        data = bytearray(n)
        view, got = memoryview(data), 0
        while got < n:
            k = stream.readinto(view[got:])
            if not k:
                return bytes(view[:got])
            got += k
        return data
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return bytes(data)
        data += chunk
    return bytes(data)


def _write_large_reply(out, head: bytes, data: bytes) -> None:
    """One frame: the reply's task id and outcome (``head``), then the pickled value,
    written from where they are."""
    parts = [memoryview(_HEAD.pack(len(head) + len(data)) + head), memoryview(data)]
    fd = out.fileno()
    while parts:
        sent = os.writev(fd, parts)
        while parts and sent >= len(parts[0]):
            sent -= len(parts[0])
            parts.pop(0)
        if parts and sent:
            parts[0] = parts[0][sent:]


def _runner():
    """The function that runs one task: ``(body, key, functions, blobs)`` to the reply's
    body. Made once the worker is set up (its imports come after the client's ``parsl``
    alias is in place), so a task pays no import statement and no message text it does
    not need."""
    from chervil.app.errors import RemoteExceptionWrapper
    from chervil.serialize import MAX_PAYLOAD, SPLICED, SerializationError, check_size, dumps, load_spliced, loads
    ok, err = bytes([OK]), bytes([ERR])

    def run(body, key: int, functions: dict, blobs: dict, large=_LARGE):
        """The reply's bytes; for a large value, ``(task id and outcome, value)``."""
        task = body[:8]
        try:
            fn = functions.get(key)
            if fn is None:
                fn = functions[key] = loads(blobs.pop(key))
            call = body[16:] if body.__class__ is bytes else memoryview(body)[16:]  # (large: a bytearray)
            args, kwargs = load_spliced(call) if body[16] == SPLICED else loads(call)
            result = fn(*args, **kwargs)
            try:
                data = dumps(result)
            except SerializationError as e:
                raise SerializationError(_result_of(fn), e.cause) from e.cause
            if len(data) > MAX_PAYLOAD:
                check_size(data, _result_of(fn))
            # An app that returns a RemoteExceptionWrapper failed (the DataFlowKernel
            # re-raises one, as Parsl's does): said so here, the client counts a returned
            # value as a success the moment it arrives, before it unpickles it.
            head = task + (err if type(result) is RemoteExceptionWrapper else ok)
            return head + data if len(data) < large else (head, data)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit from an app is the app's failure, not the worker's end
            try:
                payload = dumps(RemoteExceptionWrapper(type(e), e, e.__traceback__))
            except SerializationError:
                text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
                payload = dumps(RemoteExceptionWrapper(RuntimeError, RuntimeError(
                    f"the app raised {type(e).__name__}, which cannot be pickled; its traceback:\n{text}")))
            return task + err + payload if len(payload) < large else (task + err, payload)
    return run


def _result_of(fn) -> str:
    return f"the result of {getattr(fn, '__name__', 'the app')}"


def _take_protocol_pipes():
    """Moves the pool's pipes off fds 0 and 1 (see the module doc). ``os.dup`` makes
    non-inheritable descriptors, so programs the task starts never hold them."""
    frames_in = os.fdopen(os.dup(0), "rb")
    frames_out = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return frames_in, frames_out


def main() -> int:
    frames_in, frames_out = _take_protocol_pipes()
    from chervil import compat
    compat.install_if_inherited()  # the client's `parsl` alias, so apps from modules that import parsl load here
    from chervil.log_utils import pool_side_logger
    log = pool_side_logger('chervil.worker')  # to stderr: worker_<rank>.log
    if log is not None:
        log.info("Worker %s of %s started (pid %s, Python %s); what tasks print to stderr follows",
                 os.environ.get('PARSL_WORKER_RANK', '?'), os.environ.get('PARSL_WORKER_COUNT', '?'),
                 os.getpid(), sys.version.split()[0])
    run = _runner()
    functions: dict = {}  # function id -> function
    env_next: dict = {}  # environment for the next task (MPI tasks)
    blobs: dict = {}  # function id -> pickled function, until its first call
    while True:
        head = _read_exact(frames_in, 4)
        if len(head) < 4:
            return 0  # the pool closed the pipe: it is done with this worker
        (length,) = _HEAD.unpack(head)
        body = _read_exact(frames_in, length)
        if len(body) < length or length < 16:
            print("chervil.worker: the pool sent a truncated frame; exiting", file=sys.stderr)
            return 2
        task, key = _IDS.unpack_from(body[:16].ljust(16, b'\0'))
        if task == FUNCTION_DEF:
            blobs[key] = body[16:]
            continue
        if task == TASK_ENV:
            env_next = dict(item.split('=', 1) for item in body[8:].decode().split('\0') if '=' in item)
            continue
        if env_next:
            saved = {k: os.environ.get(k) for k in env_next}
            os.environ.update(env_next)
            try:
                reply = run(body, key, functions, blobs)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
                env_next = {}
        else:
            reply = run(body, key, functions, blobs)
        del body  # (a large call or result is not kept while the worker waits for the next)
        if reply.__class__ is tuple:
            _write_large_reply(frames_out, *reply)
        else:
            frames_out.write(_HEAD.pack(len(reply)) + reply)
        del reply


if __name__ == "__main__":
    sys.exit(main())
