"""The Open Science Grid, HTCondor: four one-node blocks; workers set up their own venv."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import CondorProvider

config = Config(executors=[HighThroughputExecutor(
    label='OSG_HTEX', max_workers_per_node=1, worker_logdir_root='$OSG_WN_TMP',
    provider=CondorProvider(nodes_per_block=1, init_blocks=4, max_blocks=4, walltime='00:20:00',
                            scheduler_options='+ProjectName = "MyProject"\nRequirements = HAS_MODULES=?=TRUE\n',
                            worker_init='unset HOME; unset PYTHONPATH; python3 -m venv chervil_env; '
                                        'source chervil_env/bin/activate; python3 -m pip install chervil'))])
