"""Blocks as Grid Engine jobs (``parsl.providers.GridEngineProvider``): ``qsub
-terse``, one ``qstat`` for all blocks, ``qdel``. Exercised against a live Son of Grid
Engine 8.1.9 (Debian's packages, started by scripts/gridengine-up.sh) in
tests/test_gridengine.py."""
from typing import Optional

from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class GridEngineProvider(ClusterProvider):
    _scheduler = 'grid_engine'

    def __init__(self, nodes_per_block: int = 1, init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: float = 1, walltime: str = "00:10:00", scheduler_options: str = '',
                 worker_init: str = '', launcher: Optional[Launcher] = None, cmd_timeout: int = 60,
                 queue: Optional[str] = None) -> None:
        super().__init__('grid_engine', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, scheduler_options, worker_init)
        self.queue = queue

    def _options(self):
        return dict(queue=self.queue)
