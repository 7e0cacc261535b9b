"""A task's front-side record (Parsl's ``parsl.dataflow.taskrecord.TaskRecord``).

Parsl keeps each task as a dict of ~25 keys; memoizers, retry handlers, ``std_autopath``
and tests read it as ``task_record['args']``. Chervil's record answers the same keys
the same way, but is a slotted object: a field never set costs one pointer, not a
dict entry, and the empty lists and ``None``\\ s every Parsl record starts with are
answered from one shared table of defaults. A pending task's record is ~0.3 KiB
instead of ~1 KiB. The scheduling state itself (dependencies, tries, final states)
lives in the engine; ``status``, ``try_id``, ``fail_count`` and ``fail_cost`` here are
the front's copies, kept for readers.
"""
from __future__ import annotations

import datetime
import weakref
from collections.abc import MutableMapping
from typing import Any, Dict, Iterator

from chervil.dataflow.states import States

# Parsl's keys, and what each reads as before anything sets it. The lists and the
# resource specification are left unset until a task has one (most never do) and read
# as a fresh empty one; the front stores a list of its own before adding to one.
_DEFAULTS: Dict[str, Any] = {
    'id': None, 'dfk': None, 'func': None, 'func_name': None, 'args': (), 'kwargs': None,
    'executor': None, 'status': States.pending, 'depends': (), 'app_fu': None, 'exec_fu': None,
    'memoize': False, 'hashsum': None, 'ignore_for_cache': (), 'fail_count': 0, 'fail_cost': 0,
    'fail_history': (), 'from_memo': None, 'join': False, 'joins': None, 'try_id': 0,
    'time_invoked': None, 'time_returned': None, 'try_time_launched': None, 'try_time_returned': None,
    'resource_specification': None,
}
_FRESH = {'depends': list, 'ignore_for_cache': list, 'fail_history': list, 'resource_specification': dict}


_TIMES = ('time_invoked', 'time_returned', 'try_time_launched', 'try_time_returned')


class _Time:
    """A record's time: stored as seconds since the epoch (24 bytes, cheap to take),
    read as the naive local ``datetime`` Parsl's records hold; set from either."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = getattr(owner, f'_{name}')

    def __get__(self, record, owner=None):
        if record is None:
            return self
        t = self.slot.__get__(record)
        return None if t is None else datetime.datetime.fromtimestamp(t)

    def __set__(self, record, value) -> None:
        self.slot.__set__(record, value.timestamp() if isinstance(value, datetime.datetime) else value)


class TaskRecord(MutableMapping):
    """One task's record; a mutable mapping with Parsl's keys.

    Keys outside Parsl's set (a user's own, or the front's private ``_result``) go
    to a small dict made on first use.
    """

    # Times are kept as `time.time()` floats and read as datetimes (see _Time).
    # _result and _exception: the front's own, a try's outcome until the task completes.
    __slots__ = (*(k for k in _DEFAULTS if k not in _TIMES), *(f'_{k}' for k in _TIMES),
                 '_result', '_exception', '_spliced', '_extra')

    def __init__(self, dfk, func, func_name: str, args: tuple, kwargs: dict, executor: str,
                 memoize: bool, join: bool, time_invoked) -> None:
        # Every field but the lists and the resource specification is set here, so
        # the front reads them as attributes; those stay unset (see _FRESH) until a
        # task has one.
        self.id = None
        self.dfk = dfk
        self.func = func
        self.func_name = func_name
        self.args = args
        self.kwargs = kwargs
        self.executor = executor
        self.status = States.pending
        self.app_fu = None
        self.exec_fu = None
        self.memoize = memoize
        self.hashsum = None
        self.fail_count = 0
        self.fail_cost = 0
        self.from_memo = None
        self.join = join
        self.joins = None
        self.try_id = 0
        self._time_invoked = time_invoked
        self._time_returned = None
        self._try_time_launched = None
        self._try_time_returned = None
        self._result = None
        self._exception = None
        # Its call is kept in the engine, which launches it (DataFlowKernel._splice).
        self._spliced = False
        spec = kwargs.get('parsl_resource_specification')
        if spec:
            self.resource_specification = spec

    time_invoked = _Time()
    time_returned = _Time()
    try_time_launched = _Time()
    try_time_returned = _Time()

    def __getitem__(self, key: str) -> Any:
        if key in _DEFAULTS:
            try:
                value = getattr(self, key)
            except AttributeError:
                fresh = _FRESH.get(key)
                return _DEFAULTS[key] if fresh is None else fresh()
            # A finished task's record holds its future weakly (DataFlowKernel._finish).
            return value() if type(value) is weakref.ref else value
        try:
            return self._extra[key]
        except AttributeError:
            raise KeyError(key) from None

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _DEFAULTS:
            setattr(self, key, value)
            return
        try:
            self._extra[key] = value
        except AttributeError:
            self._extra = {key: value}

    def __delitem__(self, key: str) -> None:
        if key in _DEFAULTS:
            try:
                delattr(self, key)
                return
            except AttributeError:
                raise KeyError(key) from None
        try:
            del self._extra[key]
        except AttributeError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if key in _DEFAULTS:
            return True
        try:
            return key in self._extra
        except AttributeError:
            return False

    def __iter__(self) -> Iterator[str]:
        yield from _DEFAULTS
        yield from getattr(self, '_extra', ())

    def __len__(self) -> int:
        return len(_DEFAULTS) + len(getattr(self, '_extra', ()))

    def __repr__(self) -> str:
        return f"<TaskRecord {self['id']} {self['func_name']} {self['status'].name}>"
