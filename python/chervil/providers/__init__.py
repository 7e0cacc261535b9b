"""Providers: where blocks of compute come from (``parsl.providers``)."""
from chervil.providers.base import ExecutionProvider
from chervil.providers.local.local import LocalProvider
from chervil.providers.slurm.slurm import SlurmProvider

__all__ = ['ExecutionProvider', 'LocalProvider', 'SlurmProvider']
