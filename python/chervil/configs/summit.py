"""Summit (OLCF), LSF with jsrun, from a login node. Set working_dir and project."""
from chervil.addresses import address_by_interface
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import JsrunLauncher
from chervil.providers import LSFProvider

config = Config(executors=[HighThroughputExecutor(
    label='Summit_HTEX', working_dir='YOUR_WORKING_DIR_ON_SHARED_FS', address=address_by_interface('ib0'),
    worker_port_range=(50000, 55000),
    provider=LSFProvider(launcher=JsrunLauncher(), walltime='00:10:00', nodes_per_block=2, init_blocks=1,
                         max_blocks=1, worker_init='', project='YOUR_PROJECT_ALLOCATION', cmd_timeout=60))])
