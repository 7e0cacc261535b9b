"""The DFK's job status poller (``parsl.jobs.job_status_poller``).

One thread for the run: every ``strategy_period`` seconds it lets each executor
that runs on blocks poll its provider, judge failures and scale
(``BlockProviderExecutor.strategize``). The decisions are the engine's.
"""
import logging
import threading
from typing import List

logger = logging.getLogger(__name__)


class JobStatusPoller:
    def __init__(self, strategy, strategy_period: float, max_idletime: float) -> None:
        self.strategy = strategy
        self.strategy_period = float(strategy_period)
        self.max_idletime = float(max_idletime)
        self._executors: List = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chervil-job-status-poller", daemon=True)
        self._lock = threading.Lock()

    def add_executors(self, executors) -> None:
        with self._lock:
            self._executors.extend(e for e in executors if hasattr(e, 'strategize'))
        if self._executors and not self._thread.is_alive() and not self._stop.is_set():
            self._thread.start()

    def poll(self) -> None:
        """One round over every executor (the thread calls this each period)."""
        with self._lock:
            executors = list(self._executors)
        for e in executors:
            if self._stop.is_set():
                return
            try:
                e.strategize(self.strategy, self.max_idletime)
            except Exception:
                logger.exception("scaling executor %s failed; will try again in %s s", e.label, self.strategy_period)

    def _run(self) -> None:
        while not self._stop.wait(self.strategy_period):
            self.poll()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
