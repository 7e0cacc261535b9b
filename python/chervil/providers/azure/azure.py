"""Blocks as Azure virtual machines (``parsl.providers.AzureProvider``), through the ``az``
CLI with your own ``az login`` (or the environment's service principal): one VM per block,
``az vm create`` from ``vm_reference`` with the block's script as cloud-init custom data
(unless ``linger=True`` the VM powers off when the pool ends or the walltime passes; a
stopped VM still holds its disk until its block is cancelled), ``az vm list`` for status (a
failed provisioning is a failed block), ``az vm delete`` to cancel, which removes the VM's
disk and network interface too. The resource group ``group_name`` must exist
(``az group create``); az makes the vnet ``vnet_name`` when it is missing.

Parsl's ``key_file`` (a JSON of Azure credentials) is refused: az brings the credentials.
The admin user logs in with ``ssh_public_key`` (a Chervil addition) or a key pair az makes;
``vm_reference['password']`` is ignored with a warning, since a password on az's command
line would show in every process listing. Not exercised against live Azure: the command
lines and the parsing of recorded answers, errors included, are tested.
"""
import logging
from typing import Any, Dict, Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider

logger = logging.getLogger(__name__)

_REFERENCE_KEYS = ('publisher', 'offer', 'sku', 'version')


class AzureProvider(ClusterProvider):
    _scheduler = 'azure'

    def __init__(self, vm_reference: Dict[str, Any], key_name: Optional[str] = None, init_blocks: int = 1,
                 min_blocks: int = 0, max_blocks: int = 10, parallelism: float = 1, worker_init: str = '',
                 location: str = 'westus', group_name: str = 'parsl.group', key_file: Optional[str] = None,
                 vnet_name: Optional[str] = 'parsl.vnet', linger: bool = False, launcher: Optional[Launcher] = None,
                 walltime: str = "01:00:00", ssh_public_key: Optional[str] = None, cmd_timeout: float = 300) -> None:
        if not isinstance(vm_reference, dict):
            raise ConfigurationError("AzureProvider(vm_reference=...) takes a dict with publisher, offer, sku, version, "
                                     "vm_size, admin_username (and disk_size_gb)")
        missing = [k for k in (*_REFERENCE_KEYS, 'vm_size', 'admin_username') if not vm_reference.get(k)]
        if missing:
            raise ConfigurationError(f"AzureProvider(vm_reference=...) lacks {', '.join(missing)}; e.g. "
                                     "{'publisher': 'Canonical', 'offer': '0001-com-ubuntu-server-jammy', "
                                     "'sku': '22_04-lts', 'version': 'latest', 'vm_size': 'Standard_D2s_v3', "
                                     "'admin_username': 'chervil'}")
        if key_file is not None:
            raise ConfigurationError("AzureProvider(key_file=...): Chervil uses the az CLI's own credentials; "
                                     "run `az login` (or set AZURE_* for a service principal) instead")
        if vm_reference.get('password'):
            logger.warning("AzureProvider: vm_reference['password'] is ignored (it would show on az's command line); "
                           "the admin user logs in with ssh_public_key or a key pair az makes")
        super().__init__('azure', 1, init_blocks, min_blocks, max_blocks, parallelism, walltime, launcher,
                         cmd_timeout, '', worker_init)
        self.vm_reference = dict(vm_reference)
        self.key_name, self.key_file = key_name, key_file
        self.location, self.group_name, self.vnet_name = location, group_name, vnet_name
        self.linger = linger
        self.ssh_public_key = ssh_public_key

    def _make_engine(self, script_dir: str):
        r = self.vm_reference
        image = ':'.join(str(r[k]) for k in _REFERENCE_KEYS)
        disk = r.get('disk_size_gb')
        return _core.BatchJobs.azure(script_dir, self.walltime, float(self.cmd_timeout), self.worker_init,
                                     resource_group=self.group_name, location=self.location, image=image,
                                     vm_size=str(r['vm_size']), disk_size_gb=None if disk is None else int(disk),
                                     admin_username=str(r['admin_username']), key_file=self.ssh_public_key,
                                     vnet_name=self.vnet_name, linger=bool(self.linger))
