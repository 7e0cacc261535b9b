"""The worker process and serialization, with a real `python -m chervil.worker`."""
import os
import pickle
import struct
import subprocess
import sys
import threading

import pytest

from chervil.serialize import FunctionCache, SerializationError, dumps, loads, pack_call

HEAD = struct.Struct(">I")


class Worker:
    """Speaks the pool's side of the pipe, as chervil-pool will."""

    def __init__(self):
        # Functions from importable modules travel by reference (as in Parsl): their
        # module must be importable by the worker, here the tests folder.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__),
                                                           os.environ.get('PYTHONPATH', '')]))
        self.proc = subprocess.Popen([sys.executable, '-m', 'chervil.worker'], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.cache = FunctionCache()
        self.sent = set()

    def send(self, body):
        self.proc.stdin.write(HEAD.pack(len(body)) + body)

    def call(self, task, fn, *args, **kwargs):
        fid, blob, payload = pack_call(self.cache, fn, args, kwargs)
        if fid not in self.sent:  # a function goes to a worker once, before its first call
            self.send(struct.pack(">QQ", 2 ** 64 - 1, fid) + blob)
            self.sent.add(fid)
        self.send(struct.pack(">QQ", task, fid) + payload)
        self.proc.stdin.flush()
        return self.reply()

    def reply(self):
        head = self.proc.stdout.read(4)
        if len(head) < 4:
            return None
        body = self.proc.stdout.read(HEAD.unpack(head)[0])
        task, ok = struct.unpack(">Q", body[:8])[0], body[8] == 0
        return task, ok, loads(body[9:])

    def close(self):
        self.proc.stdin.close()
        return self.proc.wait(10)


@pytest.fixture
def worker():
    w = Worker()
    yield w
    if w.proc.poll() is None:
        w.proc.kill()
        w.proc.wait()


def square(x):
    return x * x


def noisy(x):
    print("app output that must not reach the frame stream", x)
    os.system("echo child output too")
    return x


def raises():
    raise KeyError("missing")


def exits():
    sys.exit(3)


def unpicklable_result():
    return threading.Lock()


def test_calls_and_results(worker):
    assert worker.call(1, square, 7) == (1, True, 49)
    assert worker.call(2, lambda a, b=1: a + b, 1, b=2) == (2, True, 3)
    local = 10
    assert worker.call(3, lambda: local * 2) == (3, True, 20), "closures travel by value"
    assert worker.call(4, noisy, 'x') == (4, True, 'x')
    assert worker.close() == 0


def test_exceptions_come_back_as_the_original_type(worker):
    from chervil.app.errors import RemoteExceptionWrapper
    task, ok, value = worker.call(5, raises)
    assert (task, ok) == (5, False) and isinstance(value, RemoteExceptionWrapper)
    with pytest.raises(KeyError, match='missing'):
        value.reraise()
    task, ok, value = worker.call(6, exits)
    assert not ok and value.e_type is SystemExit, "sys.exit in an app fails the task, not the worker"
    task, ok, value = worker.call(7, unpicklable_result)
    assert not ok
    with pytest.raises(SerializationError, match='result of unpicklable_result'):
        value.reraise()
    assert worker.call(8, square, 3) == (8, True, 9), "the worker goes on after failures"


def test_worker_death_is_visible(worker):
    assert worker.call(9, os._exit, 1) is None
    assert worker.proc.wait(10) == 1


def test_functions_are_serialized_once():
    cache = FunctionCache()
    k1, b1 = cache.get(square)
    assert cache.get(square) == (k1, b1)
    assert cache.get(raises)[0] != k1


def test_unpicklable_argument_is_named():
    cache = FunctionCache()
    with pytest.raises(SerializationError, match="argument 1 of square.*ThreadPoolExecutor"):
        pack_call(cache, square, (1, threading.Lock()), {})
    with pytest.raises(SerializationError, match="keyword argument 'x'"):
        pack_call(cache, square, (), {'x': (i for i in range(3))})


def test_pickle_first_cloudpickle_fallback():
    assert loads(dumps([1, 'a', {'b': 2}])) == [1, 'a', {'b': 2}]
    f = loads(dumps(lambda: 42))
    assert f() == 42
    assert pickle.loads(dumps(square)) is square, "importable functions go by reference"
