"""The provider interface executors drive (``parsl.providers.base``)."""
from abc import ABCMeta, abstractmethod
from typing import List, Optional

from chervil.jobs.states import JobStatus


class ExecutionProvider(metaclass=ABCMeta):
    """Gets blocks of compute: ``submit`` a command, ``status`` and ``cancel`` jobs.

    Set by the configuration: ``nodes_per_block``, ``init_blocks``, ``min_blocks``,
    ``max_blocks``, ``parallelism``, ``launcher``, ``worker_init``.
    """

    label: str = 'provider'
    script_dir: Optional[str] = None

    @abstractmethod
    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.block") -> str:
        ...

    @abstractmethod
    def status(self, job_ids: List[str]) -> List[JobStatus]:
        ...

    @abstractmethod
    def cancel(self, job_ids: List[str]) -> List[bool]:
        ...

    @property
    def status_polling_interval(self) -> float:
        return 5.0

    def __repr__(self) -> str:
        shown = ('nodes_per_block', 'init_blocks', 'min_blocks', 'max_blocks', 'parallelism', 'launcher')
        fields = ', '.join(f"{k}={getattr(self, k)!r}" for k in shown if hasattr(self, k))
        return f"{type(self).__name__}({fields})"
