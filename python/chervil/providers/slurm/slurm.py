"""Blocks as Slurm batch jobs (``parsl.providers.SlurmProvider``).

The parameters and defaults are Parsl's. The engine (``chervil-providers``) writes
the ``sbatch`` script, asks ``squeue`` about every block in one call and cancels
with ``scancel``; each call is limited by ``cmd_timeout`` and a failure quotes
Slurm's own message.
"""
import time
from typing import Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.jobs.states import JobState
from chervil.launchers.launchers import Launcher, SingleNodeLauncher
from chervil.providers.base import EngineProvider
from chervil.providers.local.local import _check_blocks


class SlurmProvider(EngineProvider):
    """Each block is one ``sbatch`` job of ``nodes_per_block`` nodes."""

    def __init__(self, partition: Optional[str] = None, account: Optional[str] = None,
                 qos: Optional[str] = None, constraint: Optional[str] = None, clusters: Optional[str] = None,
                 nodes_per_block: int = 1, cores_per_node: Optional[int] = None,
                 mem_per_node: Optional[int] = None, gpus_per_node: Optional[int] = None,
                 gres: Optional[str] = None, init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: float = 1, walltime: str = "00:10:00", scheduler_options: str = '',
                 regex_job_id: str = r"Submitted batch job (?P<id>\S*)", worker_init: str = '',
                 cmd_timeout: int = 10, status_batch_size: int = 50, exclusive: bool = True,
                 launcher: Optional[Launcher] = None) -> None:
        _check_blocks('SlurmProvider', init_blocks, min_blocks, max_blocks, parallelism)
        if not isinstance(nodes_per_block, int) or nodes_per_block < 1:
            raise ConfigurationError(f"SlurmProvider(nodes_per_block={nodes_per_block!r}): give a whole number of at least 1")
        try:
            _core.check_walltime(walltime)
        except ValueError as e:
            raise ConfigurationError(f"SlurmProvider(walltime={walltime!r}): {e}") from None
        if not isinstance(cmd_timeout, (int, float)) or cmd_timeout <= 0:
            raise ConfigurationError(f"SlurmProvider(cmd_timeout={cmd_timeout!r}): give a number of seconds greater than 0")
        self._label = 'slurm'
        self.partition, self.account, self.qos = partition, account, qos
        self.constraint, self.clusters = constraint, clusters
        self.nodes_per_block = nodes_per_block
        self.cores_per_node, self.mem_per_node = cores_per_node, mem_per_node
        self.gpus_per_node, self.gres = gpus_per_node, gres
        self.init_blocks, self.min_blocks, self.max_blocks = init_blocks, min_blocks, max_blocks
        self.parallelism = parallelism
        self.walltime = walltime
        self.scheduler_options = scheduler_options
        self.regex_job_id = regex_job_id
        self.worker_init = worker_init
        self.cmd_timeout = cmd_timeout
        self.status_batch_size = status_batch_size
        self.exclusive = exclusive
        self.launcher = launcher if launcher is not None else SingleNodeLauncher()
        self.script_dir: Optional[str] = None
        self.resources = {}
        self._jobs = None

    #: Seconds between status polls of the blocks (set it on an instance to change it).
    status_polling_interval: float = 60.0

    def _make_engine(self, script_dir: str):
        return _core.SlurmJobs(
            script_dir, self.nodes_per_block, self.walltime, float(self.cmd_timeout),
            exclusive=self.exclusive, scheduler_options=self.scheduler_options, worker_init=self.worker_init,
            partition=self.partition, account=self.account, qos=self.qos, constraint=self.constraint,
            clusters=self.clusters, cores_per_node=self.cores_per_node, mem_per_node=self.mem_per_node,
            gpus_per_node=self.gpus_per_node, gres=self.gres)

    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.slurm") -> str:
        job_name = f"{job_name}.{time.time()}"
        wrapped = self._launch(command, tasks_per_node)
        return self._submitted(job_name, JobState.PENDING, wrapped, int(tasks_per_node), job_name)
