"""CC-IN2P3, Grid Engine: two one-node blocks with two workers each."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import GridEngineProvider

config = Config(executors=[HighThroughputExecutor(
    label='cc_in2p3_htex', max_workers_per_node=2,
    provider=GridEngineProvider(nodes_per_block=1, init_blocks=2, max_blocks=2, walltime='00:20:00',
                                scheduler_options='', worker_init=''))])
