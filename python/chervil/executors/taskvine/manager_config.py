"""How the TaskVine manager runs (``parsl.executors.taskvine.TaskVineManagerConfig``)."""
from dataclasses import dataclass
from typing import Optional

#: TaskVine's default port (``ndcctools.taskvine.cvine.VINE_DEFAULT_PORT``), written out so
#: that importing Chervil does not import the bindings (a tenth of a second).
VINE_DEFAULT_PORT = 9123


@dataclass
class TaskVineManagerConfig:
    """Parsl's fields and defaults.

    port: where workers connect (0: any free port; Chervil then gives workers and the
      factory the port it got, so no catalog server is needed). address: this machine's
      address for workers (default: one of its interfaces). project_name: report to the
      CCTools catalog under this name, and let workers find the manager there.
    project_password_file: a shared secret workers must prove. env_vars: set in each
      task's environment. init_command: run before each task's command.
    env_pack: a poncho/conda environment tarball tasks run in (required by serverless
      mode without shared_fs). app_pack/extra_pkgs: per-app packing (needs poncho's
      analysis scripts). max_retries: TaskVine's own retries (1: Parsl's decide).
    library_config: serverless library resources ('num_slots', 'cores', 'memory',
      'disk'). shared_fs: workers see the client's files (nothing is moved).
    autolabel/autolabel_algorithm/autolabel_window: let the resource monitor size
      tasks. autocategory: one category per app. enable_peer_transfers: workers may
      copy cached files from each other. wait_for_workers: hold tasks until that many
      workers connected. vine_log_dir: the manager's logs (default: beside the run
      directory, as in Parsl). tune_parameters: any vine_tune setting.
    """
    port: int = VINE_DEFAULT_PORT
    address: Optional[str] = None
    project_name: Optional[str] = None
    project_password_file: Optional[str] = None
    env_vars: Optional[dict] = None
    init_command: str = ""
    env_pack: Optional[str] = None
    app_pack: bool = False
    extra_pkgs: Optional[list] = None
    max_retries: int = 1
    library_config: Optional[dict] = None
    shared_fs: bool = False
    autolabel: bool = False
    autolabel_algorithm: str = 'max-xput'
    autolabel_window: Optional[int] = None
    autocategory: bool = True
    enable_peer_transfers: bool = True
    wait_for_workers: Optional[int] = None
    tune_parameters: Optional[dict] = None
    vine_log_dir: Optional[str] = None
