"""The HighThroughputExecutor: an interchange in the client feeding worker pools."""
from chervil.executors.high_throughput.executor import HighThroughputExecutor

__all__ = ['HighThroughputExecutor']
