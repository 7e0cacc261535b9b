"""Blocks as OpenStack servers, through the ``openstack`` CLI (python-openstackclient),
which reads your credentials from the standard ``OS_*`` environment (an openrc file) or
``clouds.yaml`` (name the entry with ``cloud=``); Chervil never copies them into a file
of its own. One server per block: ``server create`` with the image, flavor, network, key
and security groups and a user-data script that starts the pool (and, unless
``linger=True``, powers the server off when the pool ends or the walltime passes);
``server list`` for status (a server stuck in ERROR is a failed block); ``server delete``.
The pools connect back to the executor's ``address=``, with TLS as on every link off
loopback; the security groups must let them out to it.

``JetstreamProvider`` is the same with Jetstream2's defaults (Parsl once had a provider of
that name). Not exercised against a live cloud: the command lines and the parsing of
recorded answers, errors included (quota exceeded, unknown flavor), are tested.
"""
from typing import List, Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class OpenStackProvider(ClusterProvider):
    _scheduler = 'openstack'

    def __init__(self, image: str, flavor: str, network: str, key_name: str = '',
                 security_groups: Optional[List[str]] = None, cloud: Optional[str] = None,
                 init_blocks: int = 1, min_blocks: int = 0, max_blocks: int = 10, nodes_per_block: int = 1,
                 parallelism: float = 1, walltime: str = "01:00:00", worker_init: str = '',
                 launcher: Optional[Launcher] = None, linger: bool = False, cmd_timeout: float = 120) -> None:
        owner = type(self).__name__
        for name, value in (('image', image), ('flavor', flavor), ('network', network)):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"{owner}({name}={value!r}): give the {name}'s name or id as the cloud "
                                         f"lists it (openstack {name} list)")
        if nodes_per_block != 1:
            raise ConfigurationError(f"{owner}(nodes_per_block={nodes_per_block!r}): a block is one server; ask for "
                                     "more blocks (max_blocks) instead")
        super().__init__('openstack', 1, init_blocks, min_blocks, max_blocks, parallelism, walltime, launcher,
                         cmd_timeout, '', worker_init)
        self.image, self.flavor, self.network = image, flavor, network
        self.key_name = key_name
        self.security_groups = list(security_groups or [])
        self.cloud = cloud
        self.linger = linger

    def _make_engine(self, script_dir: str):
        return _core.BatchJobs.openstack(script_dir, self.walltime, float(self.cmd_timeout), self.worker_init,
                                         cloud=self.cloud, image=self.image, flavor=self.flavor, network=self.network,
                                         key_name=self.key_name, security_groups=self.security_groups,
                                         linger=bool(self.linger))


class JetstreamProvider(OpenStackProvider):
    """OpenStack with Jetstream2's defaults: its featured Ubuntu image, the m3.small flavor
    and the network each allocation gets. Use an application credential (openrc or
    clouds.yaml) from Jetstream2's Horizon."""

    def __init__(self, image: str = 'Featured-Ubuntu22', flavor: str = 'm3.small',
                 network: str = 'auto_allocated_network', **kwargs) -> None:
        super().__init__(image=image, flavor=flavor, network=network, **kwargs)
