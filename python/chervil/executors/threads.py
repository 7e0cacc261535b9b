"""Runs apps on threads of the client process (Parsl's ``ThreadPoolExecutor``)."""
import concurrent.futures as cf
import logging
import socket
import time
from typing import Any, List, Optional

import typeguard

from chervil.errors import ConfigurationError
from chervil.executors.base import ParslExecutor
from chervil.executors.errors import InvalidResourceSpecification

logger = logging.getLogger(__name__)


class ThreadPoolExecutor(ParslExecutor):
    """A pool of ``max_threads`` threads in the client process.

    Nothing is pickled, so any function and argument works; the GIL means pure-Python
    work does not run in parallel (use the HighThroughputExecutor for that).
    """

    @typeguard.typechecked
    def __init__(self, label: str = 'threads', max_threads: Optional[int] = 2,
                 thread_name_prefix: Optional[str] = None, storage_access: Optional[List[Any]] = None,
                 working_dir: Optional[str] = None, remote_monitoring_radio=None):
        super().__init__()
        if not isinstance(label, str) or not label:
            raise ConfigurationError(f"ThreadPoolExecutor label must be a non-empty string, not {label!r}")
        if max_threads is not None and (not isinstance(max_threads, int) or max_threads < 1):
            raise ConfigurationError(f"ThreadPoolExecutor(max_threads={max_threads!r}): give a whole number of at least 1")
        self.label = label
        self.max_threads = max_threads
        self.thread_name_prefix = thread_name_prefix or f"ThreadPoolExecutor-{label}"
        self.storage_access = storage_access
        self.working_dir = working_dir
        if remote_monitoring_radio is None:  # Parsl's default for threads (accepted, not needed)
            from chervil.monitoring.radios.multiprocessing import MultiprocessingQueueRadio
            remote_monitoring_radio = MultiprocessingQueueRadio()
        self.remote_monitoring_radio = remote_monitoring_radio
        self.executor: Optional[cf.ThreadPoolExecutor] = None

    def start(self) -> None:
        self.executor = cf.ThreadPoolExecutor(max_workers=self.max_threads,
                                              thread_name_prefix=self.thread_name_prefix)

    def submit(self, func, resource_specification, *args, **kwargs) -> cf.Future:
        if resource_specification:
            raise InvalidResourceSpecification(
                set(resource_specification),
                "the ThreadPoolExecutor takes no resource specification; drop "
                "parsl_resource_specification or send the app to a HighThroughputExecutor")
        if self.executor is None:
            raise RuntimeError(f"executor {self.label} was not started; load a config that contains it")
        if self.monitor is None:
            return self.executor.submit(func, *args, **kwargs)
        # Monitored: when the try ran, for its try row and Parsl's running/running_ended.
        ran: list = []
        host = socket.gethostname()

        def timed(*a, **k):
            started = time.time_ns() // 1000
            try:
                return func(*a, **k)
            finally:
                ran.append((host, None, started, time.time_ns() // 1000))
        fut = self.executor.submit(timed, *args, **kwargs)
        fut.chervil_ran = ran  # filled before the future is done
        return fut

    def shutdown(self, block: bool = True) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=block)

    def __repr__(self) -> str:
        return f"ThreadPoolExecutor(label={self.label!r}, max_threads={self.max_threads!r})"
