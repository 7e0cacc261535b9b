"""How ``vine_factory`` keeps workers (``parsl.executors.taskvine.TaskVineFactoryConfig``)."""
from dataclasses import dataclass
from typing import Optional


@dataclass
class TaskVineFactoryConfig:
    """Parsl's fields and defaults: by default one local worker.

    factory_timeout: the factory exits when no manager was seen for this long.
    scratch_dir: the factory's directory (default: the manager's log directory).
    min_workers/max_workers: workers kept connected. workers_per_cycle: new workers
    per 30 s at most. worker_options: more vine_worker options. worker_executable:
    the worker program (default: vine_worker, found on PATH or beside the bindings).
    worker_timeout: a worker exits when no manager contacted it for this long.
    cores/gpus/memory/disk: what each worker offers (default: all of its machine).
    python_env: run workers inside this environment tarball. batch_type: 'local',
    'condor', 'sge', 'slurm'...; condor_requirements, batch_options: passed on.
    """
    factory_timeout: int = 300
    scratch_dir: Optional[str] = None
    min_workers: int = 1
    max_workers: int = 1
    workers_per_cycle: int = 1
    worker_options: Optional[str] = None
    worker_executable: str = 'vine_worker'
    worker_timeout: int = 300
    cores: Optional[int] = None
    gpus: Optional[int] = None
    memory: Optional[int] = None
    disk: Optional[int] = None
    python_env: Optional[str] = None
    batch_type: str = "local"
    condor_requirements: Optional[str] = None
    batch_options: Optional[str] = None
    _project_port: int = 0
    _project_address: Optional[str] = None
    _project_name: Optional[str] = None
    _project_password_file: Optional[str] = None
