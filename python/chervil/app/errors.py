"""Errors raised by apps (Parsl's ``parsl.app.errors``)."""
import sys
from functools import wraps
from typing import List, Optional

from chervil.errors import ParslError


class AppException(ParslError):
    """An app failed in a way that has no more specific error."""


class AppBadFormatting(ParslError):
    """A bash app's command line could not be formatted."""


class BashExitFailure(AppException):
    """A bash app's command exited with a non-zero code (``exitcode``)."""

    def __init__(self, app_name: str, exitcode: int) -> None:
        super().__init__(app_name, exitcode)
        self.app_name = app_name
        self.exitcode = exitcode

    def __str__(self) -> str:
        return f"bash_app {self.app_name} failed with unix exit code {self.exitcode}"


class AppTimeout(AppException):
    """An app ran longer than its ``walltime``."""


class BashAppNoReturn(AppException, ValueError):
    """A bash app's function returned something other than a command-line string.

    Also a ``ValueError``, which is what Parsl raises for a non-string return.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MissingOutputs(ParslError):
    """Files named in ``outputs=`` do not exist after the app finished."""

    def __init__(self, reason: str, outputs: List) -> None:
        super().__init__(reason, outputs)
        self.reason = reason
        self.outputs = outputs

    def __str__(self) -> str:
        return f"Missing Outputs: {self.outputs}, Reason: {self.reason}"


class BadStdStreamFile(ParslError):
    """A ``stdout=``/``stderr=`` target cannot be used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self._reason = reason

    def __str__(self) -> str:
        return f"Bad Stream File: {self._reason}"


class RemoteExceptionWrapper:
    """Carries an exception raised in another process back to the client.

    ``reraise()`` raises the original exception (its type, message and cause), so
    ``future.result()`` raises what the app raised.
    """

    def __init__(self, e_type: type, e_value: BaseException, traceback=None) -> None:
        self.e_type = e_type
        self.e_value = e_value
        self.e_traceback = None
        if traceback is not None:
            try:
                from tblib import Traceback  # optional: keeps remote frames when available
                self.e_traceback = Traceback(traceback)
            except ImportError:
                pass
        cause = e_value.__cause__
        self.cause: Optional[RemoteExceptionWrapper] = (
            None if cause is None else RemoteExceptionWrapper(type(cause), cause, cause.__traceback__))

    def get_exception(self) -> BaseException:
        v = self.e_value
        if self.cause is not None:
            v.__cause__ = self.cause.get_exception()
        if self.e_traceback is not None:
            return v.with_traceback(self.e_traceback.as_traceback())
        return v

    def reraise(self) -> None:
        raise self.get_exception()


def wrap_error(func):
    """Returns exceptions raised by ``func`` as :class:`RemoteExceptionWrapper` values."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception:
            return RemoteExceptionWrapper(*sys.exc_info())

    return wrapper
