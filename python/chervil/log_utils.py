"""Logging set-up users call as ``parsl.set_stream_logger()`` / ``set_file_logger()``."""
import logging
import os
import sys
from typing import Callable, Optional, Tuple

# Parsl's layout: the first field is the Unix time, which scripts that read parsl.log parse.
DEFAULT_FORMAT = "%(created)f %(asctime)s %(processName)s-%(process)d %(threadName)s-%(thread)d " \
                 "%(name)s:%(lineno)d %(funcName)s %(levelname)s: %(message)s"
STREAM_FORMAT = "%(asctime)s %(name)s:%(lineno)d [%(levelname)s]  %(message)s"

#: The run's log format, which the launch command gives a pool and the pool its workers:
#: the client's ``FileLogging(format_string=...)``; unset, Parsl's default; empty, the run
#: logs nothing (``NoopLogging``).
POOL_LOG_FORMAT_ENV = 'CHERVIL_POOL_LOG_FORMAT'


def run_log_format(log_config) -> Optional[str]:
    """The format of the records in a run's own log files (``interchange.log``, a pool's
    ``manager.log``, its workers' logs): the run's ``FileLogging(format_string=...)``,
    else Parsl's default; None under ``NoopLogging``, which logs nothing."""
    from chervil.logconfigs.noop import NoopLogging
    if isinstance(log_config, NoopLogging):
        return None
    return getattr(log_config, 'format_string', None) or DEFAULT_FORMAT


def pool_side_logger(name: str, filename: Optional[str] = None) -> Optional[logging.Logger]:
    """The logger of a pool's ``manager.log`` (``filename``) or of a worker's log (its
    stderr, which the pool sends to ``worker_<rank>.log``), in the run's format (see
    ``POOL_LOG_FORMAT_ENV``); None when the run logs nothing."""
    fmt = os.environ.get(POOL_LOG_FORMAT_ENV)
    if fmt == '':
        return None
    if filename is None:
        set_stream_logger(name, format_string=fmt or DEFAULT_FORMAT, stream=sys.stderr)
    else:
        set_file_logger(filename, name, format_string=fmt)
    return logging.getLogger(name)


def set_stream_logger(name: str = 'chervil', level: int = logging.DEBUG, format_string: Optional[str] = None,
                      stream=None) -> Callable[[], None]:
    """Logs ``name`` (default: all of Chervil) at ``level`` and above to a stream
    (default stderr). Returns a function that takes the handler off again, as Parsl's does."""
    handler = logging.StreamHandler(stream or sys.stderr)
    return _attach(handler, name, level, format_string or STREAM_FORMAT)


def set_file_logger(filename: str, name: str = 'chervil', level: int = logging.DEBUG,
                    format_string: Optional[str] = None) -> Callable[[], None]:
    """Logs ``name`` (default: all of Chervil) at ``level`` and above to ``filename``.
    Returns a function that takes the handler off and closes the file."""
    return _attach(logging.FileHandler(filename), name, level, format_string or DEFAULT_FORMAT)


def file_handler(filename: str, level: int = logging.DEBUG) -> Tuple[logging.Handler, Callable[[], None]]:
    """``set_file_logger``'s handler for all of Chervil, and the function that takes it off:
    for a caller that needs the handler itself (the DataFlowKernel's parsl.log)."""
    handler = logging.FileHandler(filename)
    return handler, _attach(handler, 'chervil', level, DEFAULT_FORMAT)


def _attach(handler: logging.Handler, name: str, level: int, format_string: str) -> Callable[[], None]:
    """As Parsl: the logger passes everything and the handler filters by ``level``; the
    handler also gets ``concurrent.futures``'s records, where an exception raised by a
    future's callback is logged and dropped."""
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(format_string, datefmt='%Y-%m-%d %H:%M:%S'))
    logger = logging.getLogger(name)
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    futures_logger = logging.getLogger('concurrent.futures')
    futures_logger.addHandler(handler)

    def detach() -> None:
        logger.removeHandler(handler)
        futures_logger.removeHandler(handler)
        handler.close()
    return detach
