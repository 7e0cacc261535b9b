"""Logging set-up users call as ``parsl.set_stream_logger()`` / ``set_file_logger()``."""
import logging
import sys
from typing import Optional

# Parsl's layout: the first field is the Unix time, which scripts that read parsl.log parse.
DEFAULT_FORMAT = "%(created)f %(asctime)s %(processName)s-%(process)d %(threadName)s-%(thread)d " \
                 "%(name)s:%(lineno)d %(funcName)s %(levelname)s: %(message)s"


def set_stream_logger(name: str = 'chervil', level: int = logging.DEBUG, format_string: Optional[str] = None,
                      stream=None) -> logging.Logger:
    """Logs ``name`` (default: all of Chervil) to a stream (default stderr)."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(format_string or DEFAULT_FORMAT, datefmt='%Y-%m-%d %H:%M:%S'))
    logger.addHandler(handler)
    return logger


def set_file_logger(filename: str, name: str = 'chervil', level: int = logging.DEBUG,
                    format_string: Optional[str] = None) -> logging.Handler:
    """Logs ``name`` (default: all of Chervil) to ``filename``; returns the handler."""
    logger = logging.getLogger(name)
    logger.setLevel(level)
    handler = logging.FileHandler(filename)
    handler.setFormatter(logging.Formatter(format_string or DEFAULT_FORMAT, datefmt='%Y-%m-%d %H:%M:%S'))
    logger.addHandler(handler)
    return handler
