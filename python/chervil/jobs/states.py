"""Block (job) states, with Parsl's names and values (``parsl.jobs.states``)."""
from enum import IntEnum
from typing import Optional

from chervil.redaction import redact


class JobState(IntEnum):
    UNKNOWN = 0
    PENDING = 1
    RUNNING = 2
    CANCELLED = 3
    COMPLETED = 4
    FAILED = 5
    TIMEOUT = 6
    HELD = 7
    MISSING = 8
    SCALED_IN = 9

    def __str__(self) -> str:
        return f"{self.__class__.__name__}.{self.name}"


TERMINAL_STATES = [JobState.CANCELLED, JobState.COMPLETED, JobState.FAILED,
                   JobState.TIMEOUT, JobState.MISSING, JobState.SCALED_IN]


class JobStatus:
    """A block's state, with the scheduler's message and the job's output files."""

    def __init__(self, state: JobState, message: Optional[str] = None, exit_code: Optional[int] = None,
                 stdout_path: Optional[str] = None, stderr_path: Optional[str] = None) -> None:
        self.state = state
        self.message = redact(message)
        self.exit_code = exit_code
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def status_name(self) -> str:
        return self.state.name

    @property
    def stdout(self) -> Optional[str]:
        """The job's whole standard output (the run's secret redacted); None when there
        is no such file."""
        return self._read(self.stdout_path)

    @property
    def stderr(self) -> Optional[str]:
        return self._read(self.stderr_path)

    def _read(self, path: Optional[str]) -> Optional[str]:
        if not path:
            return None
        try:
            with open(path, errors='replace') as f:
                return redact(f.read())
        except OSError:
            return None

    def _tail(self, path: Optional[str], lines: int = 20) -> Optional[str]:
        if not path:
            return None
        try:
            with open(path, errors='replace') as f:
                return redact(''.join(f.readlines()[-lines:]))
        except OSError:
            return None

    @property
    def stdout_summary(self) -> Optional[str]:
        return self._tail(self.stdout_path)

    @property
    def stderr_summary(self) -> Optional[str]:
        return self._tail(self.stderr_path)

    def __repr__(self) -> str:
        return f"<{self.state}, message={self.message!r}, exit_code={self.exit_code!r}>"

    def __str__(self) -> str:
        return f"{self.state} ({self.message})" if self.message is not None else f"{self.state}"
