"""``NoopLogging``: sets nothing up (for benchmarks, or where logging is set elsewhere)."""
import pathlib
from typing import Callable

from chervil.logconfigs.base import LogConfig


class NoopLogging(LogConfig):
    """Leaves logging as it is."""

    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str) -> Callable[[], None]:
        return lambda: None
