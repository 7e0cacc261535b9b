"""Blocks as Cobalt jobs (Parsl's ``CobaltProvider``, for ALCF's machines): ``qsub --mode
script`` with the node count and the walltime in minutes, one ``qstat`` for many blocks,
``qdel``. Inside a block ``$COBALT_NODEFILE`` lists its nodes (MPIExecutor reads it).
Not exercised against a live Cobalt: the command lines and the parsing of recorded
``qsub``/``qstat`` output are tested."""
from typing import Optional

from chervil.launchers.launchers import AprunLauncher, Launcher
from chervil.providers.cluster_provider import ClusterProvider


class CobaltProvider(ClusterProvider):
    """``scheduler_options`` are extra ``qsub`` arguments (Cobalt reads no directives
    from the script), e.g. ``'--attrs mcdram=cache:numa=quad'``."""

    _scheduler = 'cobalt'

    def __init__(self, account: Optional[str] = None, queue: Optional[str] = None, scheduler_options: str = '',
                 worker_init: str = '', nodes_per_block: int = 1, init_blocks: int = 0, min_blocks: int = 0,
                 max_blocks: int = 1, parallelism: float = 1, walltime: str = "00:10:00",
                 launcher: Optional[Launcher] = None, cmd_timeout: int = 10) -> None:
        super().__init__('cobalt', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher if launcher is not None else AprunLauncher(), cmd_timeout, scheduler_options,
                         worker_init)
        self.account, self.queue = account, queue

    def _options(self):
        return dict(account=self.account, queue=self.queue)
