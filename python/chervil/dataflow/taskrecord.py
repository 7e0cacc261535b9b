"""The shape of a task record (Parsl's ``parsl.dataflow.taskrecord.TaskRecord``).

Chervil keeps each task's front-side record as a dict with these keys, as Parsl does,
so memoizers, retry handlers and tests that read ``task_record['args']`` work unchanged.
The scheduling state itself (dependencies, tries, final states) lives in the engine.
"""
from __future__ import annotations

import datetime
import threading
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Sequence, TypedDict, Union

from chervil.dataflow.states import States


class TaskRecord(TypedDict, total=False):
    dfk: Any
    func_name: str
    status: States
    depends: List[Future]
    app_fu: Future
    exec_fu: Optional[Future]
    executor: str
    fail_count: int
    fail_cost: float
    fail_history: List[str]
    checkpoint: bool
    hashsum: Optional[str]
    task_launch_lock: threading.Lock
    func: Callable
    args: Sequence[Any]
    kwargs: Dict[str, Any]
    time_invoked: Optional[datetime.datetime]
    time_returned: Optional[datetime.datetime]
    try_time_launched: Optional[datetime.datetime]
    try_time_returned: Optional[datetime.datetime]
    memoize: bool
    ignore_for_cache: Sequence[str]
    from_memo: Optional[bool]
    id: int
    try_id: int
    resource_specification: Dict[str, Any]
    join: bool
    joins: Union[None, Future, List[Future]]
    join_lock: threading.Lock
