"""Frontera (TACC), from a login node: blocks of two nodes for ten minutes. Set the allocation."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SrunLauncher
from chervil.providers import SlurmProvider

config = Config(executors=[HighThroughputExecutor(
    label='frontera_htex', max_workers_per_node=1,
    provider=SlurmProvider(cmd_timeout=60, nodes_per_block=2, init_blocks=1, min_blocks=1, max_blocks=1,
                           partition='normal', scheduler_options='#SBATCH -A <YOUR_ALLOCATION>', worker_init='',
                           walltime='00:10:00', launcher=SrunLauncher()))])
