"""Task states with Parsl's names and values (the engine's ``TaskState``)."""
from enum import IntEnum


class States(IntEnum):
    """Where a task is in its life. The values are those of Parsl and its monitoring database."""

    pending = 0
    running = 2
    exec_done = 3
    failed = 4
    dep_fail = 5
    launched = 7
    fail_retryable = 8
    memo_done = 9
    joining = 10
    running_ended = 11

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


FINAL_FAILURE_STATES = frozenset({States.failed, States.dep_fail})
FINAL_STATES = frozenset({States.exec_done, States.memo_done, *FINAL_FAILURE_STATES})
