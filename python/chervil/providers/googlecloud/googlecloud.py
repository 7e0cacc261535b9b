"""Blocks as Google Compute Engine instances (``parsl.providers.GoogleCloudProvider``),
through ``gcloud`` (``key_file`` is handed to it as the credential file). The block's
script is the instance's ``startup-script``; unless ``linger=True`` the instance
powers off when its pool ends or its walltime passes. The zone is the region's first
zone that is UP, as in Parsl, unless ``zone=`` names one. Status for all blocks is one
``instances list``; cancel is ``instances delete``. Not exercised against live Google
Cloud: the commands and the parsing of recorded ``gcloud`` answers are tested.
"""
from typing import Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class GoogleCloudProvider(ClusterProvider):
    _scheduler = 'google_cloud'

    def __init__(self, project_id: str, key_file: Optional[str], region: str, os_project: str, os_family: str,
                 google_version: str = 'v1', instance_type: str = 'n1-standard-1', init_blocks: int = 1,
                 min_blocks: int = 0, max_blocks: int = 10, launcher: Optional[Launcher] = None,
                 parallelism: float = 1, worker_init: str = '', walltime: str = "01:00:00", linger: bool = False,
                 zone: Optional[str] = None, cmd_timeout: float = 120) -> None:
        for name, value in (('project_id', project_id), ('region', region), ('os_project', os_project),
                            ('os_family', os_family)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"GoogleCloudProvider({name}={value!r}): give a non-empty string")
        super().__init__('googlecloud', 1, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, '', worker_init)
        self.project_id, self.key_file, self.region, self.zone = project_id, key_file, region, zone
        self.os_project, self.os_family = os_project, os_family
        self.google_version, self.instance_type = google_version, instance_type
        self.linger = linger

    def _make_engine(self, script_dir: str):
        return _core.BatchJobs.google_cloud(script_dir, self.walltime, float(self.cmd_timeout), self.worker_init,
                                            project_id=self.project_id, key_file=self.key_file or '',
                                            region=self.region, zone=self.zone or '', os_project=self.os_project,
                                            os_family=self.os_family, instance_type=self.instance_type,
                                            linger=bool(self.linger))
