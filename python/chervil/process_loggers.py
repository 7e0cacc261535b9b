"""Logs how a thread's or process's top-level function ended (Parsl's
``parsl.process_loggers``): such functions' exceptions otherwise reach no log."""
import functools
import logging
import threading
from typing import Callable, Optional


def wrap_with_logs(fn: Optional[Callable] = None, target: str = __name__) -> Callable:
    """Decorator (bare or ``wrap_with_logs(target='logger.name')``): logs a normal end at
    debug and an exception, with its traceback, at error; returns or re-raises as before."""
    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def logged(*args, **kwargs):
            where = f"{func.__name__} on thread {threading.current_thread().name}"
            log = logging.getLogger(target)
            try:
                result = func(*args, **kwargs)
            except Exception:
                log.error("Exceptional ending for %s", where, exc_info=True)
                raise
            log.debug("Normal ending for %s", where)
            return result
        return logged
    return decorate(fn) if fn is not None else decorate
