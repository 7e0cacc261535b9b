"""Executors: where tasks run."""
from chervil.executors.base import ParslExecutor
from chervil.executors.high_throughput.executor import HighThroughputExecutor
from chervil.executors.threads import ThreadPoolExecutor
from chervil.executors.high_throughput.mpi_executor import MPIExecutor
from chervil.executors.taskvine import TaskVineExecutor
from chervil.executors.unsupported import FluxExecutor, GlobusComputeExecutor, RadicalPilotExecutor
from chervil.executors.workqueue.executor import WorkQueueExecutor

__all__ = ['ParslExecutor', 'ThreadPoolExecutor', 'HighThroughputExecutor', 'MPIExecutor',
           'WorkQueueExecutor', 'TaskVineExecutor', 'FluxExecutor', 'GlobusComputeExecutor',
           'RadicalPilotExecutor']
