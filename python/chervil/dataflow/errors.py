"""Errors of the dataflow layer (Parsl's ``parsl.dataflow.errors``)."""
from typing import List, Sequence, Tuple

from chervil.errors import ParslError


class DataFlowException(ParslError):
    """Base class of dataflow errors."""


class BadCheckpoint(DataFlowException):
    """A checkpoint file cannot be read; the message names the file and the problem."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class PropagatedException(DataFlowException):
    """A task failed because other tasks failed.

    ``dependent_exceptions_tids`` lists ``(exception, description)`` pairs, one for each
    failed task or future (described as ``"task 3"`` or by the future's repr). The first
    root cause is also set as ``__cause__``, so tracebacks show where it started.
    """

    def __init__(self, dependent_exceptions_tids: Sequence[Tuple[BaseException, str]],
                 task_id: int, *, failure_description: str) -> None:
        super().__init__(dependent_exceptions_tids, task_id)
        self.dependent_exceptions_tids = list(dependent_exceptions_tids)
        self.task_id = task_id
        self._failure_description = failure_description
        self.__cause__, self._cause_sequence = self._root_cause()

    def _root_cause(self) -> Tuple[BaseException, List[str]]:
        e: BaseException = self
        path: List[str] = []
        while isinstance(e, PropagatedException) and e.dependent_exceptions_tids:
            exc, desc = e.dependent_exceptions_tids[0]
            extra = " (+ others)" if len(e.dependent_exceptions_tids) > 1 else ""
            path.append(f"{desc}{extra}")
            e = exc
        return e, path

    def __str__(self) -> str:
        return (f"{self._failure_description} for task {self.task_id}. "
                f"The representative cause is via {' <- '.join(self._cause_sequence)}")


class DependencyError(PropagatedException):
    """A task did not run because one or more of its dependencies failed."""

    def __init__(self, dependent_exceptions_tids, task_id: int) -> None:
        super().__init__(dependent_exceptions_tids, task_id, failure_description="Dependency failure")


class JoinError(PropagatedException):
    """A join app failed because one or more of the futures it returned failed."""

    def __init__(self, dependent_exceptions_tids, task_id: int) -> None:
        super().__init__(dependent_exceptions_tids, task_id, failure_description="Join failure")
