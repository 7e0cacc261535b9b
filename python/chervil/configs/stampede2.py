"""Stampede2 (TACC): two-node blocks, two workers per node, files through Globus. Set the partition."""
from chervil.addresses import address_by_interface
from chervil.config import Config
from chervil.data_provider.globus import GlobusStaging
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='Stampede2_HTEX', address=address_by_interface('em3'), max_workers_per_node=2,
    provider=SlurmProvider(nodes_per_block=2, init_blocks=1, min_blocks=1, max_blocks=1,
                           partition='YOUR_PARTITION', scheduler_options='', worker_init='',
                           launcher=SrunLauncher(), walltime='00:30:00'),
    storage_access=[GlobusStaging(endpoint_uuid='ceea5ca0-89a9-11e7-a97f-22000a92523b', endpoint_path='/',
                                  local_path='/')])])
