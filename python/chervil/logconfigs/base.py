"""``LogConfig``: a way of setting up logging that a run starts and ends.

A ``LogConfig`` sets logging up with ``initialize_logging(log_dir=, log_name=)``, which
returns the callable that undoes it. Runs that share one config (two DataFlowKernels
one after the other, or at once) set it up once: ``oneshot_initialize_logging`` counts
the users, and the last ``oneshot_uninitialize_logging`` undoes it.
"""
from __future__ import annotations

import abc
import logging
import pathlib
import threading
import uuid
from typing import Callable, Dict

logger = logging.getLogger(__name__)


class LogConfig(abc.ABC):
    """A logging set-up. Each instance is one set-up, known by its ``uuid`` (kept when the
    config is pickled, so copies in other processes are the same one)."""

    def __init__(self) -> None:
        self.uuid = uuid.uuid4()

    @abc.abstractmethod
    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str) -> Callable[[], None]:
        """Sets logging up in this process (files under ``log_dir`` named from
        ``log_name``); returns what undoes it."""


class _ConfigReference:
    """A set-up in use: what undoes it, and how many runs use it."""
    __slots__ = ('uninit_callback', 'count')

    def __init__(self, uninit_callback: Callable[[], None]) -> None:
        self.uninit_callback = uninit_callback
        self.count = 1


# Parsl's names: its tests look inside.
_initialized_log_contexts: Dict[uuid.UUID, _ConfigReference] = {}
_initialized_log_context_lock = threading.Lock()


def oneshot_initialize_logging(*, log_config: LogConfig, log_dir: pathlib.Path, log_name: str) -> None:
    """Sets ``log_config`` up unless it is already, and counts one more user."""
    with _initialized_log_context_lock:
        entry = _initialized_log_contexts.get(log_config.uuid)
        if entry is not None:
            entry.count += 1
            return
        undo = log_config.initialize_logging(log_dir=log_dir, log_name=log_name)
        if not callable(undo):
            raise TypeError(f"{type(log_config).__name__}.initialize_logging must return a callable that undoes it, "
                            f"not {undo!r}")
        _initialized_log_contexts[log_config.uuid] = _ConfigReference(undo)


def oneshot_uninitialize_logging(*, log_config: LogConfig) -> None:
    """One user fewer; the last one undoes the set-up."""
    with _initialized_log_context_lock:
        entry = _initialized_log_contexts.get(log_config.uuid)
        if entry is None:
            raise RuntimeError(f"{log_config!r} is not set up (uninitialized once too often)")
        entry.count -= 1
        if entry.count == 0:
            del _initialized_log_contexts[log_config.uuid]
            entry.uninit_callback()
