"""Blocks as Amazon EC2 instances (``parsl.providers.AWSProvider``), through the
``aws`` CLI (it brings your profiles and credentials; no boto3 to install). The
block's script is the instance's user data; unless ``linger=True`` the instance
powers off, and so terminates, when its pool ends or its walltime passes. Status
for many blocks is one ``describe-instances``; cancel is ``terminate-instances``.

Unlike Parsl, Chervil does not create a VPC for you: give ``subnet_id`` and
``security_group_ids`` that let the instances reach the interchange (the executor's
``address=``), or rely on your default VPC. Not exercised against live AWS: the
commands and the parsing of recorded ``aws`` answers are tested.
"""
from typing import List, Optional

from chervil import _core
from chervil.errors import ConfigurationError
from chervil.launchers.launchers import Launcher
from chervil.providers.cluster_provider import ClusterProvider


class AWSProvider(ClusterProvider):
    _scheduler = 'aws'

    def __init__(self, image_id: str, key_name: str = '', init_blocks: int = 1, min_blocks: int = 0,
                 max_blocks: int = 10, nodes_per_block: int = 1, parallelism: float = 1, worker_init: str = '',
                 instance_type: str = 't2.small', region: str = 'us-east-2', spot_max_bid: float = 0,
                 key_file: Optional[str] = None, profile: Optional[str] = None, iam_instance_profile_arn: str = '',
                 state_file: Optional[str] = None, walltime: str = "01:00:00", linger: bool = False,
                 launcher: Optional[Launcher] = None, subnet_id: Optional[str] = None,
                 security_group_ids: Optional[List[str]] = None, cmd_timeout: float = 120) -> None:
        if not isinstance(image_id, str) or not image_id.startswith('ami-'):
            raise ConfigurationError(f"AWSProvider(image_id={image_id!r}): give an AMI id ('ami-…') of an image "
                                     "with Python and chervil installed")
        if nodes_per_block != 1:
            raise ConfigurationError(f"AWSProvider(nodes_per_block={nodes_per_block!r}): a block is one instance; "
                                     "ask for more blocks (max_blocks) instead")
        if key_file is not None:
            raise ConfigurationError("AWSProvider(key_file=...): Chervil uses the aws CLI's own credentials; "
                                     "name a profile from ~/.aws/credentials with profile= instead")
        super().__init__('aws', nodes_per_block, init_blocks, min_blocks, max_blocks, parallelism, walltime,
                         launcher, cmd_timeout, '', worker_init)
        self.image_id, self.key_name = image_id, key_name
        self.instance_type, self.region = instance_type, region
        self.spot_max_bid, self.profile = float(spot_max_bid), profile
        self.iam_instance_profile_arn = iam_instance_profile_arn
        self.state_file = state_file  # accepted for Parsl scripts; instances are tagged chervil=block instead
        self.linger = linger
        self.subnet_id = subnet_id
        self.security_group_ids = list(security_group_ids or [])

    def _make_engine(self, script_dir: str):
        return _core.BatchJobs.aws(script_dir, self.walltime, float(self.cmd_timeout), self.worker_init,
                                   image_id=self.image_id, key_name=self.key_name, instance_type=self.instance_type,
                                   region=self.region, spot_max_bid=self.spot_max_bid, profile=self.profile,
                                   iam_instance_profile_arn=self.iam_instance_profile_arn, subnet_id=self.subnet_id,
                                   security_group_ids=self.security_group_ids, linger=bool(self.linger))
