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
    # Parsl polls its clouds and Kubernetes every minute too; local blocks are polled every
    # second (Parsl: 5 s; it costs nothing here). The engine holds these defaults for both
    # fronts (the Rust front's providers read them).
    from chervil.providers import AdHocProvider, AzureProvider, LocalProvider
    for cls in (AWSProvider, GoogleCloudProvider, KubernetesProvider, AzureProvider):
        assert cls.status_polling_interval == 60, cls
    assert LocalProvider().status_polling_interval == 1 and AdHocProvider.status_polling_interval == 5


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
    assert 'delete pods,secrets --namespace lab' in (bin_dir / 'calls').read_text()


def _stand_in(tmp_path, monkeypatch, tool, script):
    """A stand-in for `tool` on PATH that runs `script` (a case on the subcommands) and
    keeps what it was asked in bin/calls."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / tool
    path.write_text(f'#!/bin/sh\necho "{tool} $*" >> "$(dirname "$0")/calls"\n{script}\n')
    path.chmod(0o755)
    monkeypatch.setenv('PATH', f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir / 'calls'


def test_cobalt_takes_parsls_parameters_and_goes_through_qsub(tmp_path, monkeypatch):
    from chervil.providers import CobaltProvider
    from chervil.providers.cobalt import CobaltProvider as CobaltByPath
    p = CobaltProvider(queue='debug-cache-quad', account='Climate', walltime='00:30:00', nodes_per_block=4)
    assert CobaltByPath is CobaltProvider and isinstance(p.launcher, AprunLauncher)
    assert (CobaltProvider().init_blocks, CobaltProvider().cmd_timeout) == (0, 10)
    calls = _stand_in(tmp_path, monkeypatch, 'qsub', 'echo 318822')
    _stand_in(tmp_path, monkeypatch, 'qstat', 'echo "JobID User WallTime Nodes State Location"; echo "318822 u 00:30:00 4 queued None"')
    p.script_dir = str(tmp_path / 'scripts')
    job = p.submit('python -m chervil.pool', 1, 'chervil.cobalt.block-0')
    assert job == '318822'
    assert 'qsub --mode script -n 4 -t 30 ' in calls.read_text() and '-q debug-cache-quad -A Climate' in calls.read_text()
    assert [s.state for s in p.status([job])] == [JobState.PENDING]


def test_openstack_and_jetstream_go_through_the_openstack_cli(tmp_path, monkeypatch):
    from chervil.providers import JetstreamProvider, OpenStackProvider
    j = JetstreamProvider(key_name='lab', cloud='js2')
    assert (j.image, j.flavor, j.network, j.max_blocks, j.walltime) == ('Featured-Ubuntu22', 'm3.small',
                                                                       'auto_allocated_network', 10, '01:00:00')
    with pytest.raises(ConfigurationError, match="flavor"):
        OpenStackProvider(image='ubuntu', flavor='', network='net')
    with pytest.raises(ConfigurationError, match='a block is one server'):
        JetstreamProvider(nodes_per_block=2)
    calls = _stand_in(tmp_path, monkeypatch, 'openstack',
                      'case "$4" in create) echo 6f0c9e52-3b8d-4c1f-9a57-2d1e8b0f4c11 ;; '
                      'list) echo "6f0c9e52-3b8d-4c1f-9a57-2d1e8b0f4c11 ERROR" ;; esac')
    j.script_dir = str(tmp_path / 'scripts')
    job = j.submit('python -m chervil.pool', 1, 'chervil.js.block-0')
    assert job == '6f0c9e52-3b8d-4c1f-9a57-2d1e8b0f4c11'
    assert 'openstack --os-cloud js2 server create --image Featured-Ubuntu22 --flavor m3.small' in calls.read_text()
    assert [s.state for s in j.status([job])] == [JobState.FAILED], "a server stuck in ERROR"


def test_azure_takes_parsls_vm_reference_and_goes_through_az(tmp_path, monkeypatch, caplog):
    from chervil.providers import AzureProvider
    ref = {'publisher': 'Canonical', 'offer': '0001-com-ubuntu-server-jammy', 'sku': '22_04-lts', 'version': 'latest',
           'vm_size': 'Standard_D2s_v3', 'disk_size_gb': 64, 'admin_username': 'chervil', 'password': 'hunter2'}
    with pytest.raises(ConfigurationError, match='az login'):
        AzureProvider(vm_reference=ref, key_file='azure_key_file.json')
    with pytest.raises(ConfigurationError, match='lacks sku'):
        AzureProvider(vm_reference={k: v for k, v in ref.items() if k != 'sku'})
    p = AzureProvider(vm_reference=ref, location='eastus', group_name='science')
    assert 'password' in caplog.text and 'ignored' in caplog.text
    vm = '/subscriptions/s/resourceGroups/science/providers/Microsoft.Compute/virtualMachines/chervil-az-block-0'
    calls = _stand_in(tmp_path, monkeypatch, 'az',
                      f'case "$2" in create) echo {vm} ;; list) printf "{vm}\\tVM running\\tSucceeded\\n" ;; esac')
    p.script_dir = str(tmp_path / 'scripts')
    job = p.submit('python -m chervil.pool', 1, 'chervil.az.block-0')
    assert job == vm
    asked = calls.read_text()
    assert '--image Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest --size Standard_D2s_v3' in asked
    assert 'hunter2' not in asked, "the password never reaches a command line"
    assert [s.state for s in p.status([job])] == [JobState.RUNNING]


def test_a_replaced_execute_wait_gets_every_scheduler_command(tmp_path):
    """Parsl's hook: a script (or a test) that replaces ``execute_wait`` on a batch
    provider gets each scheduler command as a command line, and its answer is read as
    the scheduler's; the provider's own ``execute_wait`` runs a command here."""
    from chervil.providers import SlurmProvider
    from chervil.providers.errors import SubmitException

    class AtTheLoginNode(SlurmProvider):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.seen = []

        def execute_wait(self, cmd, timeout=None):
            self.seen.append(cmd)
            if 'sbatch' in cmd:
                return 0, 'Submitted batch job 4242', ''
            if 'squeue' in cmd:
                return 0, '4242 R None', ''
            return 1, '', 'scancel: error: Kill job error on job id 4242: Access/permission denied'

    p = AtTheLoginNode(partition='debug')
    p.script_dir = str(tmp_path)
    job = p.submit('pool --x', tasks_per_node=1, job_name='blk')
    assert job == '4242' and p.resources[job]['job_stdout_path'].endswith('.stdout')
    assert [s.state for s in p.status([job])] == [JobState.RUNNING]
    assert p.cancel([job]) == [False], "the scheduler refused"
    assert [c.split()[0] for c in p.seen] == ['cd', 'squeue', 'scancel'] and 'sbatch' in p.seen[0]

    def raises(cmd, timeout=None):
        raise OSError('the login node is down')
    q = SlurmProvider(partition='debug')
    q.script_dir = str(tmp_path)
    q.execute_wait = raises
    with pytest.raises(SubmitException, match='the login node is down'):
        q.submit('pool', tasks_per_node=1)
    assert SlurmProvider().execute_wait('echo here; exit 3') == (3, 'here\n', '')
