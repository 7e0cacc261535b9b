"""The provider interface executors drive (``parsl.providers.base``)."""
import os
from abc import ABCMeta, abstractmethod
from typing import List, Optional

from chervil import _core
from chervil.jobs.states import JobState, JobStatus
from chervil.providers.errors import ExecutionProviderException, SubmitException


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

    #: Seconds between status polls of the blocks (set it on an instance to change it).
    status_polling_interval: float = 5.0

    def __repr__(self) -> str:
        shown = ('nodes_per_block', 'init_blocks', 'min_blocks', 'max_blocks', 'parallelism', 'launcher')
        fields = ', '.join(f"{k}={getattr(self, k)!r}" for k in shown if hasattr(self, k))
        return f"{type(self).__name__}({fields})"


class EngineProvider(ExecutionProvider):
    """A provider whose jobs are kept by the engine (``chervil-providers``): the
    subclass says how to make its engine object (``_make_engine``, once
    ``script_dir`` is known) and what to hand it; status and cancel are shared."""

    _label: str = 'provider'
    _jobs = None

    @property
    def label(self) -> str:
        return self._label

    @abstractmethod
    def _make_engine(self, script_dir: str):
        ...

    def _engine(self):
        if self._jobs is None:
            self._jobs = self._make_engine(os.path.abspath(self.script_dir or '.'))
        return self._jobs

    def _launch(self, command: str, tasks_per_node: int) -> str:
        """The launcher's script for ``command``; our launchers also get the script
        directory (for the command file), a user's own three-argument one does not."""
        from chervil.launchers.launchers import Launcher
        if isinstance(self.launcher, Launcher):
            return self.launcher(command, tasks_per_node, self.nodes_per_block, os.path.abspath(self.script_dir or '.'))
        return self.launcher(command, tasks_per_node, self.nodes_per_block)

    def _submitted(self, job_name: str, state: JobState, *engine_args) -> str:
        """Submits through the engine and records the job as ``state``."""
        try:
            job_id = self._engine().submit(*engine_args)
        except _core.ProviderError as e:
            raise SubmitException(job_name, str(e)) from e
        self.resources[job_id] = {'job_id': job_id, 'status': JobStatus(state)}
        files = getattr(self._engine(), 'files', None)
        paths = files(job_id) if files is not None else None
        if paths is not None:
            self.resources[job_id]['job_stdout_path'], self.resources[job_id]['job_stderr_path'] = paths
        return job_id

    def status(self, job_ids: List[str]) -> List[JobStatus]:
        try:
            raw = self._engine().status(list(job_ids))
        except _core.ProviderError as e:
            raise ExecutionProviderException(str(e)) from e
        out = [JobStatus(JobState(s), m, c, o, e) for s, m, c, o, e in raw]
        for j, s in zip(job_ids, out):
            if j in self.resources:
                self.resources[j]['status'] = s
        return out

    def cancel(self, job_ids: List[str]) -> List[bool]:
        try:
            return self._engine().cancel(list(job_ids))
        except _core.ProviderError as e:
            raise ExecutionProviderException(str(e)) from e
