"""Blocks as Slurm batch jobs (``parsl.providers.SlurmProvider``).

The parameters and defaults are Parsl's. The engine (``chervil-providers``) writes
the ``sbatch`` script, asks ``squeue`` about every block in one call and cancels
with ``scancel``; each call is limited by ``cmd_timeout`` and a failure quotes
Slurm's own message.
"""
import os
import time
from typing import List, Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.jobs.states import JobState, JobStatus
from chervil.launchers.launchers import Launcher, SingleNodeLauncher
from chervil.providers.base import ExecutionProvider
from chervil.providers.errors import ExecutionProviderException, SubmitException
from chervil.providers.local.local import _check_blocks


class SlurmProvider(ExecutionProvider):
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

    @property
    def label(self) -> str:
        return self._label

    @property
    def status_polling_interval(self) -> float:
        return 60.0

    def _engine(self):
        if self._jobs is None:
            self._jobs = _core.SlurmJobs(
                os.path.abspath(self.script_dir or '.'), self.nodes_per_block, self.walltime, float(self.cmd_timeout),
                exclusive=self.exclusive, scheduler_options=self.scheduler_options, worker_init=self.worker_init,
                partition=self.partition, account=self.account, qos=self.qos, constraint=self.constraint,
                clusters=self.clusters, cores_per_node=self.cores_per_node, mem_per_node=self.mem_per_node,
                gpus_per_node=self.gpus_per_node, gres=self.gres)
        return self._jobs

    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.slurm") -> str:
        job_name = f"{job_name}.{time.time()}"
        wrapped = self.launcher(command, tasks_per_node, self.nodes_per_block)
        try:
            job_id = self._engine().submit(wrapped, int(tasks_per_node), job_name)
        except RuntimeError as e:
            raise SubmitException(job_name, str(e)) from e
        self.resources[job_id] = {'job_id': job_id, 'status': JobStatus(JobState.PENDING)}
        return job_id

    def status(self, job_ids: List[str]) -> List[JobStatus]:
        try:
            raw = self._engine().status(list(job_ids))
        except RuntimeError as e:
            raise ExecutionProviderException(str(e)) from e
        out = [JobStatus(JobState(s), m, c, o, e) for s, m, c, o, e in raw]
        for j, s in zip(job_ids, out):
            if j in self.resources:
                self.resources[j]['status'] = s
        return out

    def cancel(self, job_ids: List[str]) -> List[bool]:
        try:
            return self._engine().cancel(list(job_ids))
        except RuntimeError as e:
            raise ExecutionProviderException(str(e)) from e
