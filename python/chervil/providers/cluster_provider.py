"""Providers whose blocks are batch jobs (``parsl.providers.cluster_provider``).

The engine (``chervil-providers``: ``batch`` and ``schedulers``) writes the job
script, submits it, asks for the status of every block in as few calls as the
scheduler allows and cancels; every scheduler call is bounded by ``cmd_timeout``
and a failure quotes the scheduler's own message. A provider here only holds
Parsl's parameters and says which of them the scheduler gets.
"""
import time
import weakref
from typing import Any, Dict, Optional, Tuple

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.jobs.states import JobState
from chervil.launchers.launchers import Launcher, SingleNodeLauncher
from chervil.providers.base import EngineProvider
from chervil.providers.local.local import _check_blocks


class ClusterProvider(EngineProvider):
    """The parameters every batch provider shares; subclasses name the scheduler
    (``_scheduler``) and add their own options (``_options``)."""

    _scheduler = ''

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls._scheduler:
            #: Seconds between status polls of the blocks (set it on an instance to change
            #: it): the engine's default for the scheduler, Parsl's (a minute).
            cls.status_polling_interval = _core.status_polling_interval(cls._scheduler)

    def __init__(self, label: str, nodes_per_block: int, init_blocks: int, min_blocks: int, max_blocks: int,
                 parallelism: float, walltime: str, launcher: Optional[Launcher], cmd_timeout: float,
                 scheduler_options: str = '', worker_init: str = '') -> None:
        owner = type(self).__name__
        _check_blocks(owner, init_blocks, min_blocks, max_blocks, parallelism)
        if not isinstance(nodes_per_block, int) or isinstance(nodes_per_block, bool) or nodes_per_block < 1:
            raise ConfigurationError(f"{owner}(nodes_per_block={nodes_per_block!r}): give a whole number of at least 1")
        try:
            _core.check_walltime(walltime)
        except ValueError as e:
            raise ConfigurationError(f"{owner}(walltime={walltime!r}): {e}") from None
        if isinstance(cmd_timeout, bool) or not isinstance(cmd_timeout, (int, float)) or cmd_timeout <= 0:
            raise ConfigurationError(f"{owner}(cmd_timeout={cmd_timeout!r}): give a number of seconds greater than 0")
        self._label = label
        self.nodes_per_block = nodes_per_block
        self.init_blocks, self.min_blocks, self.max_blocks = init_blocks, min_blocks, max_blocks
        self.parallelism = parallelism
        self.walltime = walltime
        self.launcher = launcher if launcher is not None else SingleNodeLauncher()
        if not callable(self.launcher):
            from chervil.launchers.errors import BadLauncher
            raise BadLauncher(self.launcher)
        self.cmd_timeout = cmd_timeout
        self.scheduler_options = scheduler_options
        self.worker_init = worker_init
        self.script_dir: Optional[str] = None
        self.resources: Dict[str, Any] = {}
        self._jobs = None

    def _options(self) -> Dict[str, Any]:
        """What this scheduler's job script needs beyond the shared parameters."""
        return {}

    def _make_engine(self, script_dir: str):
        jobs = _core.BatchJobs(self._scheduler, script_dir, self.nodes_per_block, self.walltime,
                               float(self.cmd_timeout), scheduler_options=self.scheduler_options,
                               worker_init=self.worker_init, **self._options())
        jobs.route_commands(weakref.ref(self))
        return jobs

    def execute_wait(self, cmd: str, timeout: Optional[float] = None) -> Tuple[int, str, str]:
        """Runs a scheduler command line in a shell here: ``(exit code, stdout, stderr)``
        (Parsl's). Replace it — on the instance or in a subclass — and the engine sends
        every scheduler command of this provider (``sbatch``, ``squeue``, ``scancel``, …)
        to yours instead, as one command line; left as it is, the engine runs them
        itself, bounded by ``cmd_timeout``."""
        from chervil.utils import execute_wait
        return execute_wait(cmd, self.cmd_timeout if timeout is None else timeout)

    execute_wait._chervil_runs_here = True  # type: ignore[attr-defined]

    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.auto") -> str:
        job_name = f"{job_name}.{time.time()}"
        return self._submitted(job_name, JobState.PENDING, self._launch(command, tasks_per_node),
                               int(tasks_per_node), job_name)
