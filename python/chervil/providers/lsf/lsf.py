"""Blocks as LSF jobs (``parsl.providers.LSFProvider``): ``bsub``, one ``bjobs`` for
many blocks, ``bkill``. Not exercised against a live LSF: the script and the
parsing of recorded ``bsub``/``bjobs`` output are tested."""
import math
from typing import Optional

from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class LSFProvider(ClusterProvider):
    """Blocks ask for ``-nnodes <nodes_per_block>``, or with ``request_by_nodes=False``
    for ``-n <cores_per_block>`` spread ``cores_per_node`` to a node."""

    _scheduler = 'lsf'

    def __init__(self, nodes_per_block: int = 1, cores_per_block: Optional[int] = None,
                 cores_per_node: Optional[int] = None, init_blocks: int = 1, min_blocks: int = 0,
                 max_blocks: int = 1, parallelism: float = 1, walltime: str = "00:10:00",
                 scheduler_options: str = '', worker_init: str = '', project: Optional[str] = None,
                 queue: Optional[str] = None, cmd_timeout: int = 120, bsub_redirection: bool = False,
                 request_by_nodes: bool = True, launcher: Optional[Launcher] = None) -> None:
        if not request_by_nodes:
            if not cores_per_block or not cores_per_node:
                raise ConfigurationError("LSFProvider(request_by_nodes=False) asks for cores: give cores_per_block "
                                         "and cores_per_node (both greater than 0)")
            nodes_per_block = int(math.ceil(cores_per_block / cores_per_node))
        super().__init__('LSF', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, scheduler_options, worker_init)
        self.cores_per_block, self.cores_per_node = cores_per_block, cores_per_node
        self.project, self.queue = project, queue
        self.bsub_redirection = bsub_redirection
        self.request_by_nodes = request_by_nodes

    def _options(self):
        by_cores = not self.request_by_nodes
        return dict(account=self.project, queue=self.queue, bsub_redirection=self.bsub_redirection,
                    cores_per_block=self.cores_per_block if by_cores else None,
                    cores_per_node=self.cores_per_node if by_cores else None)
