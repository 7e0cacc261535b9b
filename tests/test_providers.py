"""Every batch provider of Parsl's is importable from the same place, takes Parsl's
parameters and defaults, and names a mistake. Their scripts and the parsing of
recorded scheduler output are tested in the engine (crates/chervil-providers)."""
import json
import os

import pytest

from chervil.errors import ConfigurationError
from chervil.launchers import AprunLauncher, SingleNodeLauncher
from chervil.jobs.states import JobState
from chervil.providers import (AWSProvider, CondorProvider, GoogleCloudProvider, GridEngineProvider,
                               KubernetesProvider, LSFProvider, PBSProProvider, SlurmProvider, TorqueProvider)
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


def test_kubernetes_and_clouds_take_parsls_parameters():
    k = KubernetesProvider(image='python:3.11')
    assert (k.namespace, k.init_blocks, k.max_blocks, k.max_mem, k.init_cpu) == ('default', 4, 10, '500Mi', 1)
    a = AWSProvider(image_id='ami-0abc', key_name='lab')
    assert (a.instance_type, a.region, a.walltime, a.max_blocks, a.linger) == ('t2.small', 'us-east-2', '01:00:00', 10,
                                                                                False)
    g = GoogleCloudProvider('proj', None, 'us-central1', 'debian-cloud', 'debian-12')
    assert (g.instance_type, g.max_blocks, g.zone) == ('n1-standard-1', 10, None)
    with pytest.raises(ConfigurationError, match='container image'):
        KubernetesProvider(image='')
    with pytest.raises(ConfigurationError, match='a block is one pod'):
        KubernetesProvider(image='python:3.11', nodes_per_block=2)
    with pytest.raises(ConfigurationError, match="AMI id"):
        AWSProvider(image_id='ubuntu', key_name='lab')
    with pytest.raises(ConfigurationError, match='profile='):
        AWSProvider(image_id='ami-0abc', key_name='lab', key_file='~/.aws/creds')


def test_kubernetes_blocks_go_through_kubectl(tmp_path, monkeypatch):
    """The Python class, the binding and the engine together, with a stand-in
    kubectl that answers as kubectl does and keeps what it was asked."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    kubectl = bin_dir / 'kubectl'
    kubectl.write_text('#!/bin/sh\necho "$*" >> "$(dirname "$0")/calls"\n'
                       'case "$1" in create) echo pod/chervil.py.block-0.1 ;; '
                       'get) echo "chervil.py.block-0.1 Pending <none>" ;; esac\n')
    kubectl.chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}:{os.environ['PATH']}")
    p = KubernetesProvider(image='python:3.11', namespace='lab', worker_init='echo ready')
    p.script_dir = str(tmp_path / 'scripts')
    job = p.submit('python -m chervil.pool', 1, 'chervil.py.block-0')
    assert job == 'chervil.py.block-0.1'
    [manifest] = (tmp_path / 'scripts').glob('*.pod.json')
    pod = json.loads(manifest.read_text())
    assert pod['metadata']['namespace'] == 'lab'
    assert pod['spec']['containers'][0]['image'] == 'python:3.11'
    assert 'echo ready' in pod['spec']['containers'][0]['command'][2]
    assert [s.state for s in p.status([job])] == [JobState.PENDING]
    assert p.cancel([job]) == [True]
    assert 'delete pods --namespace lab' in (bin_dir / 'calls').read_text()
