"""Scaling strategies (``parsl.jobs.strategy``).

The decisions are the engine's (``chervil-scaling``): each executor that runs on blocks
keeps its own scaler, and ``strategize`` asks each for a round. ``Strategy`` is Parsl's
interface to that, for code that drives scaling itself; the DataFlowKernel's poller
(``JobStatusPoller``) does the same every ``strategy_period``.
"""
import logging
from typing import Dict, List, Optional, Sequence, TypedDict

logger = logging.getLogger(__name__)

STRATEGIES = (None, 'none', 'simple', 'htex_auto_scale')


class ExecutorState(TypedDict):
    """What Parsl's strategy keeps per executor: since when it has been idle, and whether
    the next round is its first."""
    idle_since: Optional[float]
    first: bool


class Strategy:
    """Scales ``executors`` by ``strategy``: ``None``/``'none'`` (only the initial blocks),
    ``'simple'``, or ``'htex_auto_scale'`` (the same, and HTEX scales in idle blocks
    first); ``max_idletime`` seconds of idleness before a block is scaled in."""

    def __init__(self, *, strategy: Optional[str], max_idletime: float) -> None:
        if strategy not in STRATEGIES:
            from chervil.errors import ConfigurationError
            raise ConfigurationError(f"strategy {strategy!r} is not one of {', '.join(map(repr, STRATEGIES))}")
        self.strategy = strategy
        self.max_idletime = float(max_idletime)
        self.executors: Dict[str, ExecutorState] = {}

    def add_executors(self, executors: Sequence) -> None:
        for executor in executors:
            self.executors[executor.label] = {'idle_since': None, 'first': True}

    def strategize(self, executors: List) -> None:
        """One scaling round over ``executors`` (those running on blocks)."""
        for executor in executors:
            if not hasattr(executor, 'strategize'):
                continue
            state = self.executors.setdefault(executor.label, {'idle_since': None, 'first': True})
            executor.strategize(self.strategy, self.max_idletime)
            state['first'] = False
