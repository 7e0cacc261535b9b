"""Executor errors (Parsl's ``parsl.executors.errors``)."""
from typing import Optional

from chervil.app.errors import AppException
from chervil.errors import ParslError
from chervil.redaction import redact


class ExecutorError(ParslError):
    """An executor failed; names the executor and why."""

    def __init__(self, executor, reason: str) -> None:
        reason = redact(reason)  # it may quote a block's output, which may quote the secret
        super().__init__(executor, reason)
        self.executor = executor
        self.reason = reason

    def __str__(self) -> str:
        label = getattr(self.executor, 'label', self.executor)
        return f"Executor {label} failed due to: {self.reason}"


class BadStateException(ExecutorError):
    """The executor is in a state where it cannot take tasks."""


class UnsupportedFeatureError(ExecutorError):
    """A feature was asked of an executor that does not have it."""

    def __init__(self, feature: str, current_executor: str, target_executor: str = None) -> None:
        msg = f"The {feature} feature is not supported by {current_executor}"
        if target_executor:
            msg += f"; use {target_executor} instead"
        super().__init__(current_executor, msg)
        self.feature = feature


class ScalingFailed(ExecutorError):
    """Blocks could not be started."""


class BadMessage(ParslError):
    """A message from a worker could not be understood."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidResourceSpecification(ParslError):
    """A ``parsl_resource_specification`` has keys this executor does not accept."""

    def __init__(self, invalid_keys, message: str = '') -> None:
        super().__init__(invalid_keys, message)
        self.invalid_keys = invalid_keys
        self.message = message

    def __str__(self) -> str:
        return f"Invalid resource specification keys {sorted(self.invalid_keys)}: {self.message}"


class ManagerTaskFailure(AppException):
    """A Work Queue or TaskVine manager could not run a task to the end: ``reason`` says
    why (the manager's words), ``status`` is the task's exit status where there was one."""

    def __init__(self, reason: str, status: Optional[int]) -> None:
        super().__init__(reason, status)
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return self.reason
