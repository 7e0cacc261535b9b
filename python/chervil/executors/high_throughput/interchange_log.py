"""``<run_dir>/<label>/interchange.log``: the interchange's side of an HTEX run, where
Parsl's users (and its docs) look first when pools do not show up.

Chervil's interchange is a thread of the engine in the client, and its own records go to
the run's ``chervil.log`` with the rest of the engine. This file tells the story of one
executor's interchange in Parsl's place: where it listens, each pool (Parsl's
"manager") that registers — its host, block, workers and Python — and each that leaves.
It costs nothing per task: only those events are written. Its format is the run's
``initialize_logging=FileLogging(format_string=...)`` when one is given (none for
``NoopLogging``), else Parsl's default; its records also reach ``parsl.log``.
"""
import logging
import os
from typing import Dict, Iterable, Optional, Tuple

from chervil.log_utils import run_log_format


class InterchangeLog:
    """One executor's ``interchange.log`` (see the module doc)."""

    def __init__(self, label: str, logdir: str, log_config=None) -> None:
        self.logger = logging.getLogger(f'chervil.interchange.{label}')
        self.logger.setLevel(logging.DEBUG)
        self._handler: Optional[logging.Handler] = None
        self._pools: Dict[int, Tuple[str, str]] = {}
        fmt = run_log_format(log_config)
        if fmt is None:
            return
        os.makedirs(logdir, exist_ok=True)
        self._handler = logging.FileHandler(os.path.join(logdir, 'interchange.log'))
        self._handler.setFormatter(logging.Formatter(fmt, datefmt='%Y-%m-%d %H:%M:%S'))
        self.logger.addHandler(self._handler)

    def pools(self, changes: Iterable[tuple]) -> None:
        """The interchange handle's pool changes: ``(active, pool, host, block, workers,
        cores, memory MB, python)``, a join or heartbeat when active, else a leave."""
        for active, pool, host, block, workers, cores, memory_mb, python in changes:
            if active and pool not in self._pools:
                self._pools[pool] = (host, block)
                self.logger.info("Registered manager %s on %s (block %s): %s workers, %s cores, %s MB, Python %s",
                                 pool, host, block, workers, cores, memory_mb, python)
            elif not active and pool in self._pools:
                host, block = self._pools.pop(pool)
                self.logger.info("Manager %s on %s (block %s) left", pool, host, block)

    def close(self) -> None:
        if self._handler is not None:
            self.logger.info("Interchange stopped; %s managers connected at the end", len(self._pools))
            self.logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
