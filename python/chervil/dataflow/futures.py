"""AppFuture: what calling an app returns (Parsl's ``parsl.dataflow.futures``)."""
from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Optional, Sequence, Union

from chervil.app.futures import DataFuture
from chervil.dataflow.lean_future import LeanFuture, lean_init


class AppFuture(LeanFuture):
    """A ``concurrent.futures.Future`` for one app invocation.

    It completes once, when the task reaches a final state: failed tries that will be
    retried are never seen here. Beyond ``Future`` it has ``tid``, ``task_record``,
    ``outputs`` (DataFutures of ``outputs=[File…]``), ``stdout``/``stderr`` and
    ``task_status()``. ``fut[key]`` and ``fut.attr`` give futures of the result's item
    or attribute.
    """

    # Class-level until a task has them (most have none): a smaller instance.
    _outputs: Sequence[DataFuture] = ()
    _stdout_future: Optional[DataFuture] = None
    _stderr_future: Optional[DataFuture] = None

    def __init__(self, task_record) -> None:
        lean_init(self)  # Future.__init__ with a smaller condition: see lean_future
        self.task_record = task_record

    @property
    def tid(self) -> int:
        return self.task_record['id']

    @property
    def stdout(self) -> Union[None, str, DataFuture]:
        return self._stdout_future or self.task_record['kwargs'].get('stdout')

    @property
    def stderr(self) -> Union[None, str, DataFuture]:
        return self._stderr_future or self.task_record['kwargs'].get('stderr')

    @property
    def outputs(self) -> Sequence[DataFuture]:
        return self._outputs or []

    def task_status(self) -> str:
        """The name of the task's state, e.g. ``'launched'`` or ``'exec_done'``."""
        return self.task_record['status'].name

    def cancel(self) -> bool:
        raise NotImplementedError("an AppFuture cannot be cancelled")

    def cancelled(self) -> bool:
        return False

    def __getitem__(self, key: Any) -> AppFuture:
        return _deferred(self, deferred_getitem, key)

    def __getattr__(self, name: str) -> AppFuture:
        if name.startswith("_"):
            raise AttributeError(name)
        return _deferred(self, deferred_getattr, name)

    def __repr__(self) -> str:
        return f"<AppFuture task {self.tid} {self._state.lower()}>"


def deferred_getitem(o: Any, k: Any) -> Any:
    """What ``future[k]`` runs once ``future`` has its value (as a task of its own, so
    it shows in monitoring under this name, as in Parsl)."""
    return o[k]


def deferred_getattr(o: Any, name: str) -> Any:
    """What ``future.name`` runs once ``future`` has its value."""
    return getattr(o, name)



def _deferred(fut: AppFuture, fn, key) -> AppFuture:
    from chervil.app.app import python_app
    app = python_app(fn, executors=['_parsl_internal'], data_flow_kernel=fut.task_record['dfk'])
    return app(fut, key)
