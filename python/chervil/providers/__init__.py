"""Providers: where blocks of compute come from (``parsl.providers``)."""
from chervil.providers.ad_hoc.ad_hoc import AdHocProvider
from chervil.providers.aws.aws import AWSProvider
from chervil.providers.azure.azure import AzureProvider
from chervil.providers.base import ExecutionProvider
from chervil.providers.cobalt.cobalt import CobaltProvider
from chervil.providers.condor.condor import CondorProvider
from chervil.providers.googlecloud.googlecloud import GoogleCloudProvider
from chervil.providers.grid_engine.grid_engine import GridEngineProvider
from chervil.providers.kubernetes.kube import KubernetesProvider
from chervil.providers.local.local import LocalProvider
from chervil.providers.lsf.lsf import LSFProvider
from chervil.providers.openstack.openstack import JetstreamProvider, OpenStackProvider
from chervil.providers.pbspro.pbspro import PBSProProvider
from chervil.providers.slurm.slurm import SlurmProvider
from chervil.providers.torque.torque import TorqueProvider

__all__ = ['AdHocProvider', 'AWSProvider', 'AzureProvider', 'CobaltProvider', 'CondorProvider', 'ExecutionProvider',
           'GoogleCloudProvider', 'GridEngineProvider', 'JetstreamProvider', 'KubernetesProvider', 'LocalProvider',
           'LSFProvider', 'OpenStackProvider', 'PBSProProvider', 'SlurmProvider', 'TorqueProvider']
