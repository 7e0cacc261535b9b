"""Expanse (SDSC), compute partition: blocks of two nodes, 32 workers each. Set the account."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='Expanse_CPU_Multinode', max_workers_per_node=32,
    provider=SlurmProvider('compute', account='YOUR_ALLOCATION_ON_EXPANSE', launcher=SrunLauncher(),
                           scheduler_options='', worker_init='', walltime='01:00:00', init_blocks=1,
                           max_blocks=1, nodes_per_block=2))])
