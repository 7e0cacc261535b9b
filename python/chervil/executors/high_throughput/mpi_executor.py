"""``MPIExecutor`` (Parsl's): a HighThroughputExecutor whose one pool per block shares the
block's nodes among MPI tasks.

Each app call says what it needs, ``parsl_resource_specification={'num_nodes': 2,
'ranks_per_node': 4}``; the pool (on the block's first node, hence the SimpleLauncher)
finds the block's nodes from the batch scheduler, gives each task free nodes in the
order tasks came (a large task is never starved by small ones), and starts it with
Parsl's environment: ``$PARSL_MPI_PREFIX`` (the chosen launcher's command for exactly
those nodes and ranks), ``PARSL_MPIEXEC_PREFIX``, ``PARSL_SRUN_PREFIX``,
``PARSL_APRUN_PREFIX``, ``PARSL_NUM_NODES``, ``PARSL_NUM_RANKS``, ``PARSL_RANKS_PER_NODE``,
``PARSL_MPI_NODELIST``. The node scheduling and the prefixes are the engine's
(``chervil-mpi``).
"""
from typing import Callable, List, Optional, Tuple, Union

import typeguard

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.executors.high_throughput.executor import HighThroughputExecutor
from chervil.executors.high_throughput.mpi_prefix_composer import VALID_LAUNCHERS  # noqa: F401 (Parsl's name here)
from chervil.launchers import SimpleLauncher
from chervil.providers import LocalProvider


class MPILauncherTypeError(ConfigurationError, TypeError):
    """The provider's launcher starts more than one pool a block (Parsl raises TypeError)."""


class MPILauncherValueError(ConfigurationError, ValueError):
    """``mpi_launcher`` is not one Parsl composes a prefix for (Parsl raises ValueError)."""


class MPIExecutor(HighThroughputExecutor):
    """A HighThroughputExecutor in MPI mode, with Parsl's parameters and defaults.

    It takes HighThroughputExecutor's ``label``, ``launch_cmd``,
    ``interchange_launch_cmd``, ``address``, ``loopback_address``, ``worker_port``,
    ``worker_port_range``, ``interchange_port_range``, ``storage_access``,
    ``working_dir``, ``worker_debug``, ``prefetch_capacity``, ``heartbeat_threshold``,
    ``heartbeat_period``, ``drain_period``, ``poll_period``, ``address_probe_timeout``,
    ``worker_logdir_root``, ``block_error_handler``, ``encrypted`` and
    ``remote_monitoring_radio``, with the same meaning. HighThroughputExecutor's
    per-worker settings (cores, memory, accelerators, CPU affinity, manager selector) do
    not apply: a task's resource specification says what it takes. Its own parameters
    and the ones whose default differs:

    Parameters
    ----------
    max_workers_per_block : int
        MPI tasks that run at once in a block, each on its own share of the block's
        nodes (default 1).
    mpi_launcher : str
        What ``$PARSL_MPI_PREFIX`` starts ranks with: ``'mpiexec'`` (default),
        ``'srun'`` or ``'aprun'``.
    provider : ExecutionProvider
        Where blocks come from; its launcher must be ``SimpleLauncher`` (one pool a
        block, on its first node). Default: ``LocalProvider(launcher=SimpleLauncher())``.
    """

    @typeguard.typechecked
    def __init__(self,
                 label: str = 'MPIExecutor',
                 provider=None,
                 launch_cmd: Optional[str] = None,
                 interchange_launch_cmd: Optional[str] = None,
                 address: Optional[str] = None,
                 loopback_address: str = '127.0.0.1',
                 worker_port: Optional[int] = None,
                 worker_port_range: Optional[Tuple[int, int]] = (54000, 55000),
                 interchange_port_range: Optional[Tuple[int, int]] = (55000, 56000),
                 storage_access: Optional[List] = None,
                 working_dir: Optional[str] = None,
                 worker_debug: bool = False,
                 max_workers_per_block: int = 1,
                 prefetch_capacity: int = 0,
                 heartbeat_threshold: float = 120,
                 heartbeat_period: float = 30,
                 drain_period: Optional[int] = None,
                 poll_period: int = 10,
                 address_probe_timeout: Optional[int] = None,
                 worker_logdir_root: Optional[str] = None,
                 mpi_launcher: str = 'mpiexec',
                 block_error_handler: Union[bool, Callable] = True,
                 encrypted: bool = False,
                 remote_monitoring_radio=None):
        if provider is None:
            provider = LocalProvider(launcher=SimpleLauncher())
        one_pool = isinstance(getattr(provider, 'launcher', None), SimpleLauncher)
        try:
            _core.check_mpi_mode(mpi_launcher, one_pool)  # the engine's rule, as the Rust front asks it
        except TypeError as e:
            raise MPILauncherTypeError(f"MPIExecutor: {e}: provider=...(launcher=SimpleLauncher())") from None
        except ValueError as e:
            raise MPILauncherValueError(f"MPIExecutor: {e}") from None
        super().__init__(label=label, provider=provider, launch_cmd=launch_cmd,
                         interchange_launch_cmd=interchange_launch_cmd, address=address,
                         loopback_address=loopback_address, worker_port=worker_port,
                         worker_port_range=worker_port_range, interchange_port_range=interchange_port_range,
                         storage_access=storage_access, working_dir=working_dir, worker_debug=worker_debug,
                         cores_per_worker=_core.MPI_CORES_PER_WORKER, max_workers_per_node=max_workers_per_block,
                         prefetch_capacity=prefetch_capacity, heartbeat_threshold=heartbeat_threshold,
                         heartbeat_period=heartbeat_period, drain_period=drain_period, poll_period=poll_period,
                         address_probe_timeout=address_probe_timeout, worker_logdir_root=worker_logdir_root,
                         block_error_handler=block_error_handler, encrypted=encrypted,
                         remote_monitoring_radio=remote_monitoring_radio)
        self.enable_mpi_mode = True
        self.mpi_launcher = mpi_launcher
        self.max_workers_per_block = max_workers_per_block
