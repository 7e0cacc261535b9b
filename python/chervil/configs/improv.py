"""Improv (Argonne LCRC), PBS Pro: two-node blocks started with mpirun. Set the account."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import MpiRunLauncher
from chervil.providers import PBSProProvider

config = Config(executors=[HighThroughputExecutor(
    label='Improv_multinode', max_workers_per_node=32,
    provider=PBSProProvider(account='YOUR_ALLOCATION_ON_IMPROV', scheduler_options='', queue='compute',
                            worker_init='module load gcc/13.2.0; module load openmpi/5.0.3-gcc-13.2.0;',
                            launcher=MpiRunLauncher(), nodes_per_block=2, walltime='00:10:00'))])
