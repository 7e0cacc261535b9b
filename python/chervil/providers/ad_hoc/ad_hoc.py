"""Blocks on a fixed list of machines over SSH (``AdHocProvider``).

Parsl dropped its SSH channels, and with them ``AdHocProvider``; Chervil keeps the
idea without channels: give the hosts (``user@host`` as ssh takes it) and any ssh
options (a key, a port). Each block runs on one host not already running one, so
``max_blocks`` defaults to the number of hosts. The engine
(``chervil-providers::adhoc``) sends the job script over ssh's stdin, runs it
detached, asks each host about its blocks in one call and cancels by process group.
Exercised against a real sshd on loopback in the tests.
"""
import os
from typing import List, Optional, Sequence

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.jobs.states import JobState
from chervil.launchers.launchers import Launcher, SimpleLauncher
from chervil.providers.base import EngineProvider
from chervil.providers.local.local import _check_blocks


class AdHocProvider(EngineProvider):
    def __init__(self, hosts: Sequence[str] = (), ssh_options: Sequence[str] = (), worker_init: str = '',
                 cmd_timeout: float = 30, parallelism: float = 1, init_blocks: Optional[int] = None,
                 min_blocks: int = 0, max_blocks: Optional[int] = None, remote_script_dir: Optional[str] = None,
                 launcher: Optional[Launcher] = None) -> None:
        hosts = [hosts] if isinstance(hosts, str) else list(hosts)
        if not hosts or not all(isinstance(h, str) and h for h in hosts):
            raise ConfigurationError("AdHocProvider(hosts=...): give the machines to use, e.g. "
                                     "hosts=['alice@node1', 'node2']")
        max_blocks = len(hosts) if max_blocks is None else max_blocks
        init_blocks = max_blocks if init_blocks is None else init_blocks
        _check_blocks('AdHocProvider', init_blocks, min_blocks, max_blocks, parallelism)
        if max_blocks > len(hosts):
            raise ConfigurationError(f"AdHocProvider(max_blocks={max_blocks}) is more than the {len(hosts)} hosts "
                                     "given; each block takes a host of its own")
        self._label = 'ad-hoc'
        self.hosts = hosts
        self.ssh_options = list(ssh_options)
        self.worker_init = worker_init
        self.cmd_timeout = cmd_timeout
        self.parallelism = parallelism
        self.nodes_per_block = 1
        self.init_blocks, self.min_blocks, self.max_blocks = init_blocks, min_blocks, max_blocks
        self.remote_script_dir = remote_script_dir
        self.launcher = launcher if launcher is not None else SimpleLauncher()
        self.script_dir: Optional[str] = None
        self.resources = {}
        self._jobs = None

    #: Seconds between status polls of the blocks (set it on an instance to change it):
    #: the engine's default for ad hoc blocks (the Rust front's too).
    status_polling_interval: float = _core.status_polling_interval('adhoc')

    def _make_engine(self, script_dir: str):
        remote = self.remote_script_dir or os.path.abspath(script_dir)
        return _core.AdHocJobs(self.hosts, self.ssh_options, remote, float(self.cmd_timeout))

    def submit(self, command: str, tasks_per_node: int, job_name: str = "chervil.adhoc") -> str:
        script = f"{self.worker_init}\nexport JOBNAME={job_name}\n{self._launch(command, tasks_per_node)}"
        return self._submitted(job_name, JobState.RUNNING, script, job_name)


__all__: List[str] = ['AdHocProvider']
