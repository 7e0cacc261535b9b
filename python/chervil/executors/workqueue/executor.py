"""The Work Queue executor (``parsl.executors.WorkQueueExecutor``): CCTools' Work Queue
manager, fed by this client, with ``work_queue_worker`` processes started by the provider's
blocks (or by hand). What it shares with TaskVine is in :mod:`chervil.executors.cctools`.
"""
import os
import socket
from typing import Any, Dict, List, Optional

import typeguard

from chervil.errors import ConfigurationError
from chervil.executors.cctools import (RESOURCE_KEYS, CCToolsExecutor, bindings, check_resource_keys,
                                       python_command, worker_command)
from chervil.executors.errors import InvalidResourceSpecification
from chervil.executors.workqueue.errors import WorkQueueFailure, WorkQueueTaskFailure
from chervil.providers.base import ExecutionProvider
from chervil.providers.local.local import LocalProvider

#: Work Queue's default port (``ndcctools.work_queue.WORK_QUEUE_DEFAULT_PORT``), written out
#: so that importing Chervil does not import the bindings.
WORK_QUEUE_DEFAULT_PORT = 9123


class WorkQueueExecutor(CCToolsExecutor):
    """Runs apps as Work Queue tasks; Parsl's parameters, with these behaviours:

    - ``parsl_resource_specification`` takes ``cores``, ``memory`` (MB), ``disk`` (MB),
      ``gpus``, ``priority``, ``running_time_min``; without ``autolabel`` the first three
      come together or not at all. A task that names none gets a whole worker.
    - Relative ``File`` paths (and ``stdout``/``stderr``) are moved by the manager unless
      ``shared_fs``; ``use_cache`` keeps an input used again in the workers' cache.
    - ``max_retries`` is Work Queue's own retry count (1: Parsl's ``retries`` decide).
    - ``env`` is set in every task's environment (Parsl keeps it but sets nothing).
    - ``source`` is accepted and changes nothing: apps are always sent by value.
    - ``pack``, ``extra_pkgs`` and ``coprocess`` need CCTools' conda packaging scripts or
      Parsl's coprocess wrapper: asking for them is a ``ConfigurationError`` saying so.
    """

    system = 'workqueue'

    @typeguard.typechecked
    def __init__(self,
                 label: str = "WorkQueueExecutor",
                 provider: Optional[ExecutionProvider] = None,
                 working_dir: str = ".",
                 project_name: Optional[str] = None,
                 project_password_file: Optional[str] = None,
                 address: Optional[str] = None,
                 port: int = WORK_QUEUE_DEFAULT_PORT,
                 env: Optional[Dict] = None,
                 shared_fs: bool = False,
                 storage_access: Optional[List[Any]] = None,
                 use_cache: bool = False,
                 source: bool = False,
                 pack: bool = False,
                 extra_pkgs: Optional[List[str]] = None,
                 autolabel: bool = False,
                 autolabel_window: int = 1,
                 autocategory: bool = True,
                 max_retries: Optional[int] = 1,
                 init_command: str = "",
                 worker_options: str = "",
                 full_debug: bool = True,
                 worker_executable: str = 'work_queue_worker',
                 function_dir: Optional[str] = None,
                 coprocess: bool = False,
                 scaling_cores_per_worker: int = 1,
                 remote_monitoring_radio: Any = None):
        super().__init__(provider=provider if provider is not None else LocalProvider())
        bindings('work_queue', 'WorkQueueExecutor')
        if pack or extra_pkgs:
            raise ConfigurationError(
                "WorkQueueExecutor(pack=True/extra_pkgs) packs each app's conda environment with CCTools' "
                "python_package_* scripts, which this installation does not have; install the app's "
                "packages on the workers (or use a shared file system) and drop pack/extra_pkgs")
        if coprocess:
            raise ConfigurationError(
                "WorkQueueExecutor(coprocess=True) is experimental in Parsl and not provided by Chervil; "
                "drop it (TaskVineExecutor(function_exec_mode='serverless') keeps a warm Python process)")
        if project_password_file is not None and not os.path.exists(project_password_file):
            raise WorkQueueFailure(f'Could not find password file: {project_password_file}')
        self.label = label
        self.working_dir = working_dir
        self.project_name = project_name
        self.project_password_file = project_password_file
        self.address = address or socket.gethostname()
        self.port = port
        self.env = env
        self.shared_fs = shared_fs
        self.storage_access = storage_access
        self.use_cache = use_cache
        self.source = source
        self.pack = pack
        self.extra_pkgs = extra_pkgs or []
        self.autolabel = autolabel
        self.autolabel_window = autolabel_window
        self.autocategory = autocategory
        self.max_retries = max_retries
        self.init_command = init_command
        self.worker_options = worker_options
        self.full_debug = full_debug
        self.worker_executable = worker_executable
        self.function_dir = function_dir
        self.coprocess = coprocess
        self.scaling_cores_per_worker = scaling_cores_per_worker
        if remote_monitoring_radio is None:  # Parsl's default for this executor (accepted, not needed)
            from chervil.monitoring.radios.filesystem import FilesystemRadio
            remote_monitoring_radio = FilesystemRadio()
        self.remote_monitoring_radio = remote_monitoring_radio

    def _workers_are_ours_and_local(self) -> bool:
        return isinstance(self.provider, LocalProvider)

    def _password_file(self) -> Optional[str]:
        return self.project_password_file

    def _use_password_file(self, path: str) -> None:
        self.project_password_file = path

    def _settings(self) -> Dict[str, Any]:
        return {'port': self.port, 'project_name': self.project_name,
                'project_password_file': self.project_password_file, 'autolabel': self.autolabel,
                'autolabel_window': self.autolabel_window, 'max_retries': self.max_retries, 'env': self.env}

    def _function_data_dir(self) -> str:
        if not self.function_dir:
            return super()._function_data_dir()
        # Under function_dir (which workers see on a shared file system), one folder per run.
        return os.path.join(os.path.abspath(self.function_dir), os.path.basename(os.path.abspath(self.run_dir)),
                            self.label, 'function_data')

    def _resources(self, spec: Dict[str, Any], func) -> Dict[str, Any]:
        check_resource_keys(spec, RESOURCE_KEYS, 'WorkQueueExecutor')
        given = {'cores', 'memory', 'disk'} & set(spec)
        if given and given != {'cores', 'memory', 'disk'} and not self.autolabel:
            raise InvalidResourceSpecification(
                set(spec), "Task resource specification requires three resources to be specified "
                           "simultaneously: cores, memory, and disk. Try setting autolabel=True if you are "
                           "unsure of the resource usage")
        task = {k: spec[k] for k in RESOURCE_KEYS if k in spec}
        task['category'] = getattr(func, '__name__', 'parsl-default') if self.autocategory else 'parsl-default'
        return task

    def _command(self, exec_mode: str) -> str:
        command = python_command('map function argument result')
        return f"{self.init_command}; {command}" if self.init_command else command

    def _slots(self, spec: Dict[str, Any]) -> float:
        return float(spec.get('cores', self.scaling_cores_per_worker))

    def _cache_inputs(self) -> bool:
        return self.use_cache

    def _shared_fs(self) -> bool:
        return self.shared_fs

    @property
    def workers_per_node(self) -> float:
        return self.scaling_cores_per_worker

    def _compose_worker_command(self) -> str:
        return worker_command(self.worker_executable, 'work_queue_worker', self.project_password_file,
                              self.worker_options, self.address, self._port)

    def _task_failure(self, reason: str, status):
        return WorkQueueTaskFailure(reason, status)

    def _manager_failure(self, reason: str) -> BaseException:
        return WorkQueueFailure(reason)

    def __repr__(self) -> str:
        return f"WorkQueueExecutor(label={self.label!r}, port={self.port!r}, provider={self.provider!r})"
