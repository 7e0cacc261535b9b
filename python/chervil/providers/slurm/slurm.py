"""Blocks as Slurm batch jobs (``parsl.providers.SlurmProvider``): ``sbatch``, one
``squeue`` per ``status_batch_size`` blocks, ``scancel``. Exercised against a real
Slurm in the tests."""
from typing import Optional

from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


try:
    from itertools import batched  # Python 3.12+
except ImportError:  # Parsl's helper for older Pythons, under the same name
    from itertools import islice

    def batched(iterable, n: int, *, strict: bool = False):
        """``iterable`` in tuples of ``n`` (the last may be shorter, unless ``strict``)."""
        if n < 1:
            raise ValueError("n must be at least one")
        iterator = iter(iterable)
        while chunk := tuple(islice(iterator, n)):
            if strict and len(chunk) != n:
                raise ValueError("batched(): incomplete batch")
            yield chunk


class SlurmProvider(ClusterProvider):
    """Each block is one ``sbatch`` job of ``nodes_per_block`` nodes."""

    _scheduler = 'slurm'

    def __init__(self, partition: Optional[str] = None, account: Optional[str] = None,
                 qos: Optional[str] = None, constraint: Optional[str] = None, clusters: Optional[str] = None,
                 nodes_per_block: int = 1, cores_per_node: Optional[int] = None,
                 mem_per_node: Optional[int] = None, gpus_per_node: Optional[int] = None,
                 gres: Optional[str] = None, init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 1,
                 parallelism: float = 1, walltime: str = "00:10:00", scheduler_options: str = '',
                 regex_job_id: str = r"Submitted batch job (?P<id>\S*)", worker_init: str = '',
                 cmd_timeout: int = 10, status_batch_size: int = 50, exclusive: bool = True,
                 launcher: Optional[Launcher] = None) -> None:
        super().__init__('slurm', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, scheduler_options, worker_init)
        self.partition, self.account, self.qos = partition, account, qos
        self.constraint, self.clusters = constraint, clusters
        self.cores_per_node, self.mem_per_node = cores_per_node, mem_per_node
        self.gpus_per_node, self.gres = gpus_per_node, gres
        self.regex_job_id = regex_job_id
        self.status_batch_size = status_batch_size
        self.exclusive = exclusive

    def _options(self):
        return dict(queue=self.partition, account=self.account, qos=self.qos, constraint=self.constraint,
                    clusters=self.clusters, cores_per_node=self.cores_per_node, mem_per_node=self.mem_per_node,
                    gpus_per_node=self.gpus_per_node, gres=self.gres, exclusive=self.exclusive,
                    status_batch_size=self.status_batch_size)
