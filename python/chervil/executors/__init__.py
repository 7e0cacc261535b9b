"""Executors: where tasks run."""
from chervil.executors.base import ParslExecutor
from chervil.executors.high_throughput.executor import HighThroughputExecutor
from chervil.executors.threads import ThreadPoolExecutor

__all__ = ['ParslExecutor', 'ThreadPoolExecutor', 'HighThroughputExecutor']
