"""Bridges (PSC), from a login node: two-node blocks for ten minutes. Set the partition."""
from chervil.addresses import address_by_interface
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='Bridges_HTEX_multinode', address=address_by_interface('ens3f0'), max_workers_per_node=1,
    provider=SlurmProvider('YOUR_PARTITION_NAME', nodes_per_block=2, init_blocks=1, scheduler_options='',
                           worker_init='', launcher=SrunLauncher(), walltime='00:10:00', cmd_timeout=120))])
