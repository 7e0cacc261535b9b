"""ASPIRE 1 (NSCC Singapore), PBS Pro: blocks of three nodes started with mpirun, with
monitoring and task_exit checkpoints."""
from chervil.addresses import address_by_interface
from chervil.config import Config
from chervil.dataflow.memoization import BasicMemoizer
from chervil.executors import HighThroughputExecutor
from chervil.launchers import MpiRunLauncher
from chervil.monitoring import MonitoringHub
from chervil.providers import PBSProProvider

config = Config(
    executors=[HighThroughputExecutor(
        label='htex', heartbeat_period=15, heartbeat_threshold=120, worker_debug=True, max_workers_per_node=4,
        address=address_by_interface('ib0'),
        provider=PBSProProvider(launcher=MpiRunLauncher(), scheduler_options='#PBS -J 1-10', worker_init='',
                                nodes_per_block=3, min_blocks=3, max_blocks=5, cpus_per_node=24,
                                walltime='24:00:00'))],
    monitoring=MonitoringHub(resource_monitoring_interval=10),
    strategy='simple', retries=3,
    memoizer=BasicMemoizer(checkpoint_mode='task_exit'),
)
