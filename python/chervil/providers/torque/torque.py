"""Blocks as Torque jobs (``parsl.providers.TorqueProvider``): ``qsub``, one
``qstat`` for many blocks, ``qdel``. Not exercised against a live Torque: the
script and the parsing of recorded ``qsub``/``qstat`` output are tested."""
from typing import Optional

from chervil.launchers.launchers import AprunLauncher, Launcher
from chervil.providers.cluster_provider import ClusterProvider


class TorqueProvider(ClusterProvider):
    """Each block asks for ``nodes=<nodes_per_block>:ppn=<tasks_per_node>``; the
    default launcher is ``AprunLauncher``, as in Parsl (Torque sites are often Crays)."""

    _scheduler = 'torque'

    def __init__(self, account: Optional[str] = None, queue: Optional[str] = None, scheduler_options: str = '',
                 worker_init: str = '', nodes_per_block: int = 1, init_blocks: int = 1, min_blocks: int = 0,
                 max_blocks: int = 1, parallelism: float = 1, launcher: Optional[Launcher] = None,
                 walltime: str = "00:20:00", cmd_timeout: int = 120) -> None:
        super().__init__('torque', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher if launcher is not None else AprunLauncher(), cmd_timeout, scheduler_options,
                         worker_init)
        self.account, self.queue = account, queue

    def _options(self):
        return dict(account=self.account, queue=self.queue)
