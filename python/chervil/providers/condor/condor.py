"""Blocks as HTCondor jobs (``parsl.providers.CondorProvider``): a submit description
and the block's script, ``condor_submit``, one ``condor_q`` for many blocks,
``condor_rm``. Not exercised against a live HTCondor: the files and the parsing of
recorded output are tested."""
from typing import Dict, List, Optional

from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class CondorProvider(ClusterProvider):
    """HTCondor slots stand for nodes: ``cores_per_slot``/``mem_per_slot`` become
    ``RequestCpus``/``RequestMemory``; ``environment`` is set in the job."""

    _scheduler = 'condor'

    def __init__(self, nodes_per_block: int = 1, cores_per_slot: Optional[int] = None,
                 mem_per_slot: Optional[float] = None, init_blocks: int = 1, min_blocks: int = 0,
                 max_blocks: int = 1, parallelism: float = 1, environment: Optional[Dict[str, str]] = None,
                 project: str = '', scheduler_options: str = '', transfer_input_files: Optional[List[str]] = None,
                 walltime: str = "00:10:00", worker_init: str = '', launcher: Optional[Launcher] = None,
                 requirements: str = '', cmd_timeout: int = 60, cmd_chunk_size: int = 100) -> None:
        super().__init__('condor', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, scheduler_options, worker_init)
        self.cores_per_slot, self.mem_per_slot = cores_per_slot, mem_per_slot
        self.cores_per_node, self.mem_per_node = cores_per_slot, mem_per_slot
        self.environment = dict(environment or {})
        self.project = project
        self.transfer_input_files = list(transfer_input_files or [])
        self.requirements = requirements
        self.cmd_chunk_size = cmd_chunk_size

    def _options(self):
        return dict(account=self.project or None, cores_per_node=self.cores_per_slot, mem_per_node=self.mem_per_slot,
                    environment={k: str(v) for k, v in self.environment.items()},
                    transfer_input_files=self.transfer_input_files, requirements=self.requirements,
                    status_batch_size=self.cmd_chunk_size)
