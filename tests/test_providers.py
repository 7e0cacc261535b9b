"""Every batch provider of Parsl's is importable from the same place, takes Parsl's
parameters and defaults, and names a mistake. Their scripts and the parsing of
recorded scheduler output are tested in the engine (crates/chervil-providers)."""
import pytest

from chervil.errors import ConfigurationError
from chervil.launchers import AprunLauncher, SingleNodeLauncher
from chervil.providers import (CondorProvider, GridEngineProvider, LSFProvider, PBSProProvider, SlurmProvider,
                               TorqueProvider)
from chervil.providers.condor import CondorProvider as CondorByPath
from chervil.providers.pbspro import PBSProProvider as PBSByPath


def test_parsl_defaults():
    assert PBSByPath is PBSProProvider and CondorByPath is CondorProvider
    assert PBSProProvider().walltime == '00:20:00' and PBSProProvider().cpus_per_node == 1
    assert isinstance(TorqueProvider().launcher, AprunLauncher), "Parsl's Torque default is aprun"
    assert isinstance(GridEngineProvider().launcher, SingleNodeLauncher)
    assert LSFProvider().request_by_nodes and LSFProvider().label == 'LSF'
    assert CondorProvider().label == 'condor'
    for cls in (PBSProProvider, TorqueProvider, GridEngineProvider, LSFProvider, CondorProvider, SlurmProvider):
        p = cls()
        assert (p.init_blocks, p.min_blocks, p.max_blocks, p.parallelism, p.nodes_per_block) == (1, 0, 1, 1, 1)
        assert p.status_polling_interval == 60


def test_lsf_by_cores_sets_nodes_per_block():
    assert LSFProvider(request_by_nodes=False, cores_per_block=100, cores_per_node=42).nodes_per_block == 3
    with pytest.raises(ConfigurationError, match='cores_per_block and cores_per_node'):
        LSFProvider(request_by_nodes=False)


@pytest.mark.parametrize('cls', [PBSProProvider, TorqueProvider, GridEngineProvider, LSFProvider, CondorProvider])
def test_mistakes_are_named(cls):
    with pytest.raises(ConfigurationError, match='walltime'):
        cls(walltime='90 minutes')
    with pytest.raises(ConfigurationError, match='min_blocks'):
        cls(min_blocks=3, max_blocks=1)
