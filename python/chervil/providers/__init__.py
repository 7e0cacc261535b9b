"""Providers: where blocks of compute come from (``parsl.providers``)."""
from chervil.providers.ad_hoc.ad_hoc import AdHocProvider
from chervil.providers.base import ExecutionProvider
from chervil.providers.condor.condor import CondorProvider
from chervil.providers.grid_engine.grid_engine import GridEngineProvider
from chervil.providers.local.local import LocalProvider
from chervil.providers.lsf.lsf import LSFProvider
from chervil.providers.pbspro.pbspro import PBSProProvider
from chervil.providers.slurm.slurm import SlurmProvider
from chervil.providers.torque.torque import TorqueProvider

__all__ = ['AdHocProvider', 'CondorProvider', 'ExecutionProvider', 'GridEngineProvider', 'LocalProvider', 'LSFProvider',
           'PBSProProvider', 'SlurmProvider', 'TorqueProvider']
