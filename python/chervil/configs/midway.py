"""Midway (UChicago RCC): two-node blocks, two workers per node. Set the partition."""
from chervil.addresses import address_by_interface
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='Midway_HTEX_multinode', address=address_by_interface('bond0'), worker_debug=False,
    max_workers_per_node=2,
    provider=SlurmProvider('YOUR_PARTITION', launcher=SrunLauncher(), nodes_per_block=2, init_blocks=1,
                           min_blocks=1, max_blocks=1, scheduler_options='', worker_init='', walltime='00:30:00'))])
