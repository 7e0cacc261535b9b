"""The TaskVine executor (``parsl.executors.TaskVineExecutor``): CCTools' TaskVine manager,
fed by this client, with ``vine_worker`` processes from ``vine_factory`` (the default), the
provider's blocks, or started by hand. What it shares with Work Queue is in
:mod:`chervil.executors.cctools`.
"""
import os
from typing import Any, Dict, List, Literal, Optional, Union

import typeguard

from chervil.addresses import get_any_address
from chervil.errors import ConfigurationError
from chervil.executors.cctools import (RESOURCE_KEYS, CCToolsExecutor, bindings, check_resource_keys, program,
                                       python_command, worker_command)
from chervil.executors.taskvine.errors import TaskVineManagerFailure, TaskVineTaskFailure
from chervil.executors.taskvine.factory_config import TaskVineFactoryConfig
from chervil.executors.taskvine.manager_config import TaskVineManagerConfig
from chervil.providers.base import ExecutionProvider
from chervil.providers.local.local import LocalProvider

_ACCEPTED = RESOURCE_KEYS + ('category', 'exec_mode')


class TaskVineExecutor(CCToolsExecutor):
    """Runs apps as TaskVine tasks; Parsl's parameters, with these behaviours:

    - ``worker_launch_method``: 'factory' (vine_factory keeps ``factory_config``'s
      workers), 'provider' (the provider's blocks run vine_worker; default LocalProvider
      with one block) or 'manual' (start ``vine_worker`` yourself: the executor's ``worker_command``).
    - ``function_exec_mode``: 'regular' (a fresh Python per task) or 'serverless' (a
      library process on each worker runs the calls; needs ``shared_fs`` or ``env_pack``).
      A task may choose with ``parsl_resource_specification={'exec_mode': ...}``.
    - ``parsl_resource_specification`` takes ``cores``, ``memory`` (MB), ``disk`` (MB),
      ``gpus``, ``priority``, ``running_time_min``, ``category``, ``exec_mode``; any other
      key is an ``InvalidResourceSpecification`` (Parsl ignores it silently).
    - Relative ``File`` paths (and ``stdout``/``stderr``) go through the manager and
      workers' caches unless ``shared_fs``.
    - ``manager_config.port=0`` takes a free port and tells the workers that one; Parsl
      instead invents a project name, which only works with the CCTools catalog online.
    """

    system = 'taskvine'

    @typeguard.typechecked
    def __init__(self,
                 label: str = "TaskVineExecutor",
                 worker_launch_method: Union[Literal['provider'], Literal['factory'], Literal['manual']] = 'factory',
                 function_exec_mode: Union[Literal['regular'], Literal['serverless']] = 'regular',
                 manager_config: Optional[TaskVineManagerConfig] = None,
                 factory_config: Optional[TaskVineFactoryConfig] = None,
                 provider: Optional[ExecutionProvider] = None,
                 storage_access: Optional[List[Any]] = None,
                 remote_monitoring_radio: Any = None):
        if worker_launch_method in ('factory', 'manual'):
            provider = None
        elif provider is None:
            provider = LocalProvider(init_blocks=1)
        super().__init__(provider=provider)
        bindings('taskvine', 'TaskVineExecutor')
        self.label = label
        self.worker_launch_method = worker_launch_method
        self.function_exec_mode = function_exec_mode
        self.manager_config = manager_config if manager_config is not None else TaskVineManagerConfig()
        self.factory_config = factory_config if factory_config is not None else TaskVineFactoryConfig()
        self.storage_access = storage_access
        if remote_monitoring_radio is None:  # Parsl's default for this executor (accepted, not needed)
            from chervil.monitoring.radios.filesystem import FilesystemRadio
            remote_monitoring_radio = FilesystemRadio()
        self.remote_monitoring_radio = remote_monitoring_radio
        m = self.manager_config
        if m.app_pack or m.extra_pkgs:
            raise ConfigurationError(
                "TaskVineManagerConfig(app_pack=True/extra_pkgs) packs each app's conda environment with "
                "poncho and conda-pack, which Chervil does not drive; give a ready environment with "
                "env_pack='env.tar.gz' (poncho_package_create), or install the packages on the workers")
        if m.autolabel_algorithm not in ('max-xput', 'bucketing', 'max'):
            raise ConfigurationError(
                f"TaskVineManagerConfig(autolabel_algorithm={m.autolabel_algorithm!r}): "
                "use 'max-xput', 'bucketing' or 'max'")
        if function_exec_mode == 'serverless' and not m.shared_fs and m.env_pack is None:
            raise ConfigurationError(
                "TaskVineExecutor(function_exec_mode='serverless') needs the library's Python environment on "
                "the workers: set manager_config=TaskVineManagerConfig(shared_fs=True) when workers see this "
                "machine's files, or env_pack='env.tar.gz' (a poncho environment)")

    def _workers_are_ours_and_local(self) -> bool:
        if self.worker_launch_method == 'factory':
            return self.factory_config.batch_type == 'local'
        return self.worker_launch_method == 'provider' and isinstance(self.provider, LocalProvider)

    def _password_file(self) -> Optional[str]:
        return self.manager_config.project_password_file

    def _use_password_file(self, path: str) -> None:
        self.manager_config.project_password_file = path

    def _manager_log_dir(self) -> str:
        m = self.manager_config
        if m.vine_log_dir is None:
            m.vine_log_dir = os.path.join(os.path.dirname(os.path.abspath(self.run_dir)), self.label)
        return m.vine_log_dir

    def _settings(self) -> Dict[str, Any]:
        m = self.manager_config
        if m.address is None:
            m.address = get_any_address()
        settings = {'port': m.port, 'project_name': m.project_name, 'project_password_file': m.project_password_file,
                    'address': m.address, 'autolabel': m.autolabel, 'autolabel_window': m.autolabel_window,
                    'autolabel_algorithm': m.autolabel_algorithm, 'wait_for_workers': m.wait_for_workers,
                    'enable_peer_transfers': m.enable_peer_transfers, 'tune_parameters': m.tune_parameters,
                    'max_retries': m.max_retries, 'env': m.env_vars, 'shared_fs': m.shared_fs,
                    'env_pack': m.env_pack, 'init_command': m.init_command, 'library_config': m.library_config}
        if self.worker_launch_method == 'factory':
            f = self.factory_config
            f.scratch_dir = f.scratch_dir or self._manager_log_dir()
            settings['factory'] = {k: getattr(f, k) for k in (
                'factory_timeout', 'scratch_dir', 'min_workers', 'max_workers', 'workers_per_cycle',
                'worker_options', 'worker_timeout', 'cores', 'gpus', 'memory', 'disk', 'python_env',
                'batch_type', 'condor_requirements', 'batch_options')}
            settings['factory']['worker_executable'] = program(f.worker_executable)
        return settings

    def _resources(self, spec: Dict[str, Any], func) -> Dict[str, Any]:
        check_resource_keys(spec, _ACCEPTED, 'TaskVineExecutor')
        mode = spec.get('exec_mode', self.function_exec_mode)
        if mode not in ('regular', 'serverless'):
            raise ConfigurationError(f"parsl_resource_specification exec_mode={mode!r}: use 'regular' or 'serverless'")
        task = {k: spec[k] for k in RESOURCE_KEYS if k in spec}
        task['category'] = spec.get('category') or (
            getattr(func, '__name__', 'parsl-default') if self.manager_config.autocategory else 'parsl-default')
        task['exec_mode'] = mode
        return task

    def _command(self, exec_mode: str) -> str:
        if exec_mode == 'serverless':
            return ''
        command = python_command('map function argument result')
        init = self.manager_config.init_command
        return f"{init} {command}" if init else command

    def _cache_inputs(self) -> bool:
        return True

    def _shared_fs(self) -> bool:
        return self.manager_config.shared_fs

    def _compose_worker_command(self) -> str:
        f, m = self.factory_config, self.manager_config
        f._project_port, f._project_address = self._port, m.address
        f._project_name, f._project_password_file = m.project_name, m.project_password_file
        return worker_command(f.worker_executable, 'vine_worker', m.project_password_file, f.worker_options,
                              m.address, self._port)

    def _task_failure(self, reason: str, status):
        return TaskVineTaskFailure(reason, status)

    def _manager_failure(self, reason: str) -> BaseException:
        return TaskVineManagerFailure(reason)

    def __repr__(self) -> str:
        return (f"TaskVineExecutor(label={self.label!r}, worker_launch_method={self.worker_launch_method!r}, "
                f"function_exec_mode={self.function_exec_mode!r})")
