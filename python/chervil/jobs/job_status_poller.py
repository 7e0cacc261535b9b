"""The DFK's job status poller (``parsl.jobs.job_status_poller``).

Every ``strategy_period`` seconds it lets each executor that runs on blocks poll its
provider, judge failures and scale (``BlockProviderExecutor.strategize``). The
decisions are the engine's, and so is the clock: ``_core.Ticker``, the thread the
Rust front's executors run their rounds on too.
"""
import logging
import threading
from typing import List, Optional

from chervil import _core

logger = logging.getLogger(__name__)


class JobStatusPoller:
    def __init__(self, strategy, strategy_period: float, max_idletime: float) -> None:
        self.strategy = strategy
        self.strategy_period = float(strategy_period)
        self.max_idletime = float(max_idletime)
        self._executors: List = []
        # What each tick calls (Parsl's Timer attribute: a script or test may wrap it).
        self.callback = self.poll
        self._ticker: Optional[_core.Ticker] = None
        self._closed = False
        self._lock = threading.Lock()

    def add_executors(self, executors) -> None:
        with self._lock:
            self._executors.extend(e for e in executors if hasattr(e, 'strategize'))
            if self._executors and self._ticker is None and not self._closed:
                self._ticker = _core.Ticker("chervil-job-status-poller", self.strategy_period, self._tick)

    def _tick(self) -> None:
        self.callback()

    def poll(self) -> None:
        """One round over every executor (the thread calls this each period)."""
        with self._lock:
            executors = list(self._executors)
        for e in executors:
            if self._closed:
                return
            try:
                e.strategize(self.strategy, self.max_idletime)
            except Exception:
                logger.exception("scaling executor %s failed; will try again in %s s", e.label, self.strategy_period)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ticker = self._ticker
        if ticker is not None:
            ticker.stop()  # waits for a round in progress, unless this is one
