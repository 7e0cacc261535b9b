"""``FileLogging``: log lines in a file, as ``initialize_logging=True`` writes them."""
import logging
import pathlib
from typing import Callable

from chervil.log_utils import DEFAULT_FORMAT
from chervil.logconfigs.base import LogConfig


def _lower_to(logger: logging.Logger, level: int) -> None:
    """Lets ``level`` records through ``logger`` (never raises a level set lower)."""
    logger.setLevel(level if logger.level == logging.NOTSET else min(logger.level, level))


class FileLogging(LogConfig):
    """Chervil's (and ``concurrent.futures``') records at ``level`` and above into
    ``<log_dir>/<log_name>.log``, formatted by ``format_string``."""

    def __init__(self, *, format_string: str = DEFAULT_FORMAT, level: int = logging.DEBUG) -> None:
        super().__init__()
        self.format_string = format_string
        self.level = level

    def initialize_logging(self, *, log_dir: pathlib.Path, log_name: str) -> Callable[[], None]:
        log_dir = pathlib.Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_dir / f"{log_name}.log")
        handler.setLevel(self.level)
        handler.setFormatter(logging.Formatter(self.format_string, datefmt='%Y-%m-%d %H:%M:%S'))
        loggers = [logging.getLogger('chervil'), logging.getLogger('concurrent.futures')]
        for lg in loggers:
            _lower_to(lg, self.level)
            lg.addHandler(handler)

        def undo() -> None:
            for lg in loggers:
                lg.removeHandler(handler)
            handler.close()
        return undo
