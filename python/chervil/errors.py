"""Errors that belong to no single part of Chervil (Parsl's ``parsl.errors``)."""
from typing import List


class ParslError(Exception):
    """Base class of every Chervil error (named as in Parsl, so ``except ParslError`` works)."""


ChervilError = ParslError


class ConfigurationError(ParslError):
    """A configuration is wrong; the message says which field and how to fix it."""


class NoDataFlowKernelError(ParslError):
    """There is no DataFlowKernel where one is needed."""


class InternalConsistencyError(ParslError):
    """Chervil found its own state inconsistent: a bug, please report it."""


class OptionalModuleMissing(ParslError):
    """A feature needs a module that is not installed."""

    def __init__(self, module_names: List[str], reason: str):
        super().__init__(module_names, reason)
        self.module_names = module_names
        self.reason = reason

    def __str__(self) -> str:
        return (f"this feature needs the modules {self.module_names}, which could not be "
                f"imported: {self.reason}")
