"""Blocks as PBS Pro jobs (``parsl.providers.PBSProProvider``): ``qsub``, one
``qstat -x`` for many blocks, ``qdel``. Not exercised against a live PBS: the
script and the parsing of recorded ``qsub``/``qstat`` output are tested."""
from typing import Optional

from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class PBSProProvider(ClusterProvider):
    """Each block asks for ``select=<nodes_per_block>:ncpus=<cpus_per_node><select_options>``."""

    _scheduler = 'pbspro'

    def __init__(self, account: Optional[str] = None, queue: Optional[str] = None, scheduler_options: str = '',
                 select_options: str = '', worker_init: str = '', nodes_per_block: int = 1, cpus_per_node: int = 1,
                 init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1, parallelism: float = 1,
                 launcher: Optional[Launcher] = None, walltime: str = "00:20:00", cmd_timeout: int = 120) -> None:
        super().__init__('pbspro', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, scheduler_options, worker_init)
        self.account, self.queue = account, queue
        self.select_options = select_options
        self.cpus_per_node = cpus_per_node

    def _options(self):
        return dict(account=self.account, queue=self.queue, select_options=self.select_options,
                    cores_per_node=self.cpus_per_node)
