"""Errors of the HighThroughputExecutor (``parsl.executors.high_throughput.errors``)."""
import time


class ManagerLost(Exception):
    """The pool ("manager") running the task was lost: killed, or silent past
    ``heartbeat_threshold``. ``Config(retries=...)`` re-runs such tasks elsewhere."""

    def __init__(self, manager_id, hostname: str, reason: str = '') -> None:
        super().__init__(manager_id, hostname, reason)
        self.manager_id = manager_id
        self.hostname = hostname
        self.reason = reason
        self.tstamp = time.time()

    def __str__(self) -> str:
        mid = self.manager_id.decode() if isinstance(self.manager_id, bytes) else self.manager_id
        out = f"Task failure due to loss of manager {mid} on host {self.hostname}"
        return f"{out}: {self.reason}" if self.reason else out


class WorkerLost(Exception):
    """The worker process running the task died (killed, segfault, out of memory)."""

    def __init__(self, worker_id, hostname: str, reason: str = '') -> None:
        super().__init__(worker_id, hostname, reason)
        self.worker_id = worker_id
        self.hostname = hostname
        self.reason = reason

    def __str__(self) -> str:
        out = f"Task failure due to loss of worker {self.worker_id} on host {self.hostname}"
        return f"{out}: {self.reason}" if self.reason else out


class VersionMismatch(Exception):
    """A pool of another Chervil version tried to connect."""

    def __init__(self, interchange_version: str, manager_version: str) -> None:
        super().__init__(interchange_version, manager_version)
        self.interchange_version = interchange_version
        self.manager_version = manager_version

    def __str__(self) -> str:
        return (f"Manager version info {self.manager_version} does not match interchange version info "
                f"{self.interchange_version}")


class CommandClientTimeoutError(Exception):
    """Kept for Parsl compatibility: the interchange did not answer a command in time."""


class CommandClientBadError(Exception):
    """Kept for Parsl compatibility: the interchange is in a bad state."""
