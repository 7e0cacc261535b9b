"""A ``concurrent.futures.Future`` that costs a tenth of the memory to create.

Every task holds an AppFuture while it is pending (and, on executors other than HTEX,
the executor's future of the try), and ``Future.__init__`` builds a ``threading.Condition``,
which binds five methods of its lock per instance and allocates a waiter deque: about
0.8 KiB and a few microseconds each, most of what a pending task cost the client.
:class:`LeanCondition` is the part of a ``Condition`` that ``Future`` and
``concurrent.futures.wait``/``as_completed`` use (``with``, ``acquire``, ``release``,
``wait``, ``notify_all``), over the same kind of reentrant lock, with the lock made on
first use and its waiter list on first wait. ``lean_init()`` sets a Future's fields as ``Future.__init__`` does, with
it; a Python whose Future has other fields gets the standard one.
"""
from __future__ import annotations

import threading
from concurrent.futures import Future
from concurrent.futures._base import FINISHED, PENDING, RUNNING
from typing import List, Optional

_allocate_lock = threading.Lock

# Called before a thread blocks on a lean future: executors that hold submissions back
# to send them in batches (HighThroughputExecutor.submit_soon) register their flush
# here, so no one sleeps on a task that is still waiting to be sent.
before_wait: List = []


def flush_before_waiting() -> None:
    for flush in list(before_wait):
        try:
            flush()
        except Exception:  # a flush that fails must not turn a wait into an error
            pass


_making_locks = threading.Lock()


class LeanCondition:
    """The part of a ``threading.Condition`` that Future uses, over a reentrant lock
    made on first use: a pending task nobody waits on holds no lock at all (an RLock is
    ~0.1 KiB), and most tasks of a big run are pending long before anyone looks."""

    # future_waiters, future_callbacks: its future's lists (see LeanFuture), kept here
    # so that a future that never needs them has none.
    __slots__ = ('_rlock', '_waiters', 'future_waiters', 'future_callbacks')

    def __init__(self) -> None:
        self._rlock = None  # (None, not unset: testing for it raises nothing)
        self._waiters: Optional[List] = None

    @property
    def _lock(self):
        lock = self._rlock
        if lock is not None:
            return lock
        with _making_locks:  # two threads reaching a new future at once make one lock
            lock = self._rlock
            if lock is None:
                lock = self._rlock = threading.RLock()
            return lock

    def acquire(self, *args) -> bool:
        return self._lock.acquire(*args)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.__enter__()

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    def wait(self, timeout: Optional[float] = None) -> bool:
        # As threading.Condition.wait: a lock per waiter, the condition's lock given up
        # (however deeply held) while waiting, taken back before returning.
        if not self._lock._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        if before_wait:
            flush_before_waiting()
        waiter = _allocate_lock()
        waiter.acquire()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        saved = self._lock._release_save()
        got = False
        try:
            if timeout is None:
                got = waiter.acquire()
            elif timeout > 0:
                got = waiter.acquire(True, timeout)
            else:
                got = waiter.acquire(False)
            return got
        finally:
            self._lock._acquire_restore(saved)
            if not got and self._waiters:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass  # notified between the timeout and taking the lock back

    def notify(self, n: int = 1) -> None:
        if not self._lock._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters = self._waiters or []
        for w in waiters[:n]:
            w.release()
        del waiters[:n]

    def notify_all(self) -> None:
        if not self._lock._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        waiters, self._waiters = self._waiters, None
        for w in waiters or ():
            w.release()


_FIELDS = {'_condition', '_state', '_result', '_exception', '_waiters', '_done_callbacks'}
_SAME_FIELDS = set(vars(Future())) == _FIELDS and hasattr(threading.RLock(), '_release_save')


def lean_init(fut: Future) -> None:
    """What ``Future.__init__`` does, with a :class:`LeanCondition`."""
    if not _SAME_FIELDS:
        Future.__init__(fut)
        return
    fut._condition = LeanCondition()
    fut._state = PENDING
    fut._result = None
    fut._exception = None
    # _waiters and _done_callbacks: made on first use (see LeanFuture).


def _list_on_use(slot: str) -> property:
    """A Future's list attribute kept in a slot of its condition, made when first
    read: ``concurrent.futures`` reads and appends to ``_waiters`` and
    ``_done_callbacks`` directly, but most futures of a run are never waited on one
    by one nor given a callback, and two empty lists per pending task are ~0.1 KiB
    and two more objects for the garbage collector."""

    def get(fut):
        cond = fut._condition
        try:
            return getattr(cond, slot)
        except AttributeError:
            made: List = []
            setattr(cond, slot, made)
            return made

    def put(fut, value) -> None:
        setattr(fut._condition, slot, value)

    return property(get, put)


class LeanFuture(Future):
    """A Future made with ``lean_init()``: the AppFuture's base, and
    ``HighThroughputExecutor.submit``'s future."""

    _waiters = _list_on_use('future_waiters')
    _done_callbacks = _list_on_use('future_callbacks')

    def __init__(self) -> None:
        lean_init(self)

    def result(self, timeout: Optional[float] = None):
        # A finished future's outcome never changes, and its fields were set before its
        # state (under the GIL), so reading them needs no lock: no lock is made, either.
        if self._state == FINISHED:
            if self._exception is not None:
                try:
                    raise self._exception
                finally:
                    self = None  # as Future.result: no cycle through the traceback
            return self._result
        return super().result(timeout)

    def set_result(self, result) -> None:
        if not self._finish_unwatched('_result', result):
            super().set_result(result)

    def set_exception(self, exception) -> None:
        if not self._finish_unwatched('_exception', exception):
            super().set_exception(exception)

    def _finish_unwatched(self, field: str, value) -> bool:
        """Finishes a future nobody has looked at yet, without making its lock: no thread
        waits on it, no ``wait``/``as_completed`` holds it and it has no callback, since
        each of those would have made the lock first — under ``_making_locks``, which
        this holds, so one of them and this happen wholly one before the other. Most of a
        run's futures finish so (a tenth of the client's work per result, otherwise: the
        lock, two empty lists, and a notify of no one). False when someone has looked:
        then ``Future``'s own way, under the lock."""
        cond = self._condition
        if type(cond) is not LeanCondition or cond._rlock is not None:
            return False
        with _making_locks:
            if cond._rlock is not None or self._state not in (PENDING, RUNNING):
                return False  # Future's own method raises InvalidStateError, as it should
            setattr(self, field, value)
            self._state = FINISHED
            return True

