"""Blocks on this machine (``parsl.providers.LocalProvider``).

The configuration lives here; starting, watching and cancelling the blocks (process
groups, so cancelling takes the pools and workers with them) is done by the engine.
"""
import time
from typing import Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.jobs.states import JobState
from chervil.launchers.launchers import Launcher, SingleNodeLauncher
from chervil.providers.base import EngineProvider


def _check_blocks(owner: str, init_blocks, min_blocks, max_blocks, parallelism) -> None:
    for name, v in (('init_blocks', init_blocks), ('min_blocks', min_blocks), ('max_blocks', max_blocks)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ConfigurationError(f"{owner}({name}={v!r}): give a whole number of at least 0")
    if min_blocks > max_blocks:
        raise ConfigurationError(f"{owner}(min_blocks={min_blocks}, max_blocks={max_blocks}): min_blocks "
                                 "cannot be more than max_blocks")
    if not 0 <= parallelism <= 1:
        raise ConfigurationError(f"{owner}(parallelism={parallelism!r}): give a number from 0 to 1")


class LocalProvider(EngineProvider):
    """Runs each block as a process group on the machine running the workflow."""

    def __init__(self, nodes_per_block: int = 1, launcher: Optional[Launcher] = None, init_blocks: int = 1,
                 min_blocks: int = 0, max_blocks: int = 1, worker_init: str = '', cmd_timeout: int = 30,
                 parallelism: float = 1) -> None:
        _check_blocks('LocalProvider', init_blocks, min_blocks, max_blocks, parallelism)
        if not isinstance(nodes_per_block, int) or nodes_per_block < 1:
            raise ConfigurationError(f"LocalProvider(nodes_per_block={nodes_per_block!r}): give a whole number of at least 1")
        self._label = 'local'
        self.nodes_per_block = nodes_per_block
        self.launcher = launcher if launcher is not None else SingleNodeLauncher()
        self.init_blocks = init_blocks
        self.min_blocks = min_blocks
        self.max_blocks = max_blocks
        self.worker_init = worker_init
        self.cmd_timeout = cmd_timeout
        self.parallelism = parallelism
        self.script_dir: Optional[str] = None
        self.resources = {}
        self._jobs = None

    #: Seconds between status polls of the blocks (set it on an instance to change it):
    #: the engine's default for local blocks (the Rust front's too).
    status_polling_interval: float = _core.status_polling_interval('local')

    def _make_engine(self, script_dir: str):
        return _core.LocalJobs(script_dir)

    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.localprovider") -> str:
        job_name = f"{job_name}.{time.time()}"
        script = (f"{self.worker_init}\nexport JOBNAME={job_name}\n"
                  f"{self._launch(command, tasks_per_node)}")
        return self._submitted(job_name, JobState.RUNNING, script, job_name)
