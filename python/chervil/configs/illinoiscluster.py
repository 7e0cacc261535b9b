"""The UIUC Campus Cluster, from a login node: two-node blocks, one 16-core worker per node."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='CC_htex', worker_debug=False, cores_per_worker=16.0,
    provider=SlurmProvider(partition='secondary-fdr', nodes_per_block=2, init_blocks=1, max_blocks=1,
                           scheduler_options='', cmd_timeout=60, walltime='00:10:00', launcher=SrunLauncher(),
                           worker_init='conda activate envParsl'))])
