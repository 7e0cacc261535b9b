"""MPI tasks on real MPICH: MPIExecutor shares a block's nodes among MPI tasks, each
launched through Parsl's $PARSL_MPI_PREFIX.

The block's "nodes" here are three names of this one machine (its hostname, localhost,
127.0.0.1) given to the pool in a PBS node file, so MPICH's mpiexec starts each task's
ranks on the nodes it was given, all local. (Separate hosts — network namespaces with
sshd, and srun under Slurm — are the next step of issue 13.)"""
import os
import shutil
import socket
import subprocess
import sys

import pytest

import chervil
from chervil import bash_app, python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor, MPIExecutor
from chervil.executors.errors import InvalidResourceSpecification
from chervil.launchers import SimpleLauncher
from chervil.providers import LocalProvider
from test_htex import _need
from test_splice import release

HELLO_C = r'''
#include <mpi.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int rank, size; char host[256];
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gethostname(host, sizeof host);
    printf("rank %d of %d\n", rank, size);
    MPI_Finalize();
    return 0;
}
'''


@bash_app
def mpi_hello(program, stdout=None, stderr=None, parsl_resource_specification=None):
    return f'echo "$PARSL_MPI_NODELIST $PARSL_NUM_RANKS $PARSL_RANKS_PER_NODE"; $PARSL_MPI_PREFIX {program}'


@python_app
def prefix_and_nodes(seconds, parsl_resource_specification=None):
    import os
    import time
    start = time.time()
    time.sleep(seconds)
    return os.environ['PARSL_MPI_PREFIX'], os.environ['PARSL_MPI_NODELIST'].split(','), start, time.time()


@python_app
def plain():
    return 1


def mpi_config(tmp_path, workers=3, nodes=None):
    names = nodes or [socket.gethostname(), 'localhost', '127.0.0.1']
    nodefile = tmp_path / 'nodefile'
    nodefile.write_text(''.join(f'{n}\n' for n in names))
    provider = LocalProvider(init_blocks=1, max_blocks=1, launcher=SimpleLauncher(),
                             worker_init=f'export PBS_NODEFILE={nodefile}')
    return Config(executors=[MPIExecutor(label='mpi', max_workers_per_block=workers, provider=provider)],
                  run_dir=str(tmp_path / 'runinfo'), strategy='none')


@pytest.fixture(scope='module')
def hello(tmp_path_factory):
    _need(shutil.which('mpiexec') is not None and shutil.which('mpicc') is not None,
          "MPICH is not installed (make system-deps installs mpich)")
    d = tmp_path_factory.mktemp('mpi')
    (d / 'hello.c').write_text(HELLO_C)
    subprocess.run(['mpicc', '-o', str(d / 'hello'), str(d / 'hello.c')], check=True)
    return d / 'hello'


def test_a_compiled_mpi_program_runs_through_parsls_prefix(tmp_path, hello):
    with chervil.load(mpi_config(tmp_path)):
        out = tmp_path / 'hello.out'
        spec = {'num_nodes': 2, 'ranks_per_node': 2}
        assert mpi_hello(str(hello), stdout=str(out), stderr=str(tmp_path / 'hello.err'),
                         parsl_resource_specification=spec).result() == 0
    lines = out.read_text().splitlines()
    nodes, ranks, per_node = lines[0].split()
    assert len(nodes.split(',')) == 2 and (ranks, per_node) == ('4', '2')
    assert sorted(lines[1:]) == [f'rank {r} of 4' for r in range(4)]


@python_app
def mpi4py_ranks(parsl_resource_specification=None):
    """A python app that runs an mpi4py program on its ranks, through the prefix."""
    import os
    import subprocess
    import sys
    # Rank 0 gathers every rank's (rank, size) and prints them: one line, no interleaving.
    program = ("from mpi4py import MPI; c = MPI.COMM_WORLD; got = c.gather((c.Get_rank(), c.Get_size())); "
               "print(sorted(got)) if c.Get_rank() == 0 else None")
    out = subprocess.run(f"{os.environ['PARSL_MPI_PREFIX']} {sys.executable} -c '{program}'", shell=True,
                         capture_output=True, text=True, check=True).stdout
    return out.strip()


def test_a_python_app_runs_mpi4py_on_its_ranks(tmp_path):
    try:
        from mpi4py import MPI  # noqa: F401
    except ImportError:
        _need(False, "mpi4py is not installed against MPICH (make mpi4py)")
    with chervil.load(mpi_config(tmp_path)):
        ranks = mpi4py_ranks(parsl_resource_specification={'num_nodes': 3, 'num_ranks': 6}).result(timeout=120)
    assert ranks == str([(r, 6) for r in range(6)])


def test_mpi_tasks_share_the_block_without_overlapping(tmp_path):
    _need(shutil.which('mpiexec') is not None, "MPICH is not installed")
    with chervil.load(mpi_config(tmp_path)):
        futures = [prefix_and_nodes(0.6, parsl_resource_specification={'num_nodes': n, 'ranks_per_node': 1})
                   for n in (2, 1, 2, 1, 3)]
        results = [f.result(timeout=120) for f in futures]
    host = socket.gethostname()
    assert results[0][0] == f'mpiexec -n 2 -ppn 1 -hosts {",".join(results[0][1])} '
    assert all(len(r[1]) == n for r, n in zip(results, (2, 1, 2, 1, 3)))
    assert set(results[4][1]) == {host, 'localhost', '127.0.0.1'}, "the whole block"
    # No node is given to two tasks at once.
    for i, (_, nodes_a, s_a, e_a) in enumerate(results):
        for _, nodes_b, s_b, e_b in results[i + 1:]:
            if set(nodes_a) & set(nodes_b):
                assert e_a <= s_b or e_b <= s_a, "two tasks ran on one node at the same time"
    # The first two run together (three nodes), the third waits for the first.
    assert results[2][2] >= min(results[0][3], results[1][3]) - 0.05


@python_app
def nodes_after_gate(fifo, parsl_resource_specification=None):
    import os
    with open(fifo) as f:
        f.read()
    return os.environ['PARSL_MPI_NODELIST'].split(',')


@python_app
def nodes_after(before, parsl_resource_specification=None):
    import os
    return before, os.environ['PARSL_MPI_NODELIST'].split(',')


def test_an_mpi_task_waiting_on_another_is_launched_by_the_engine(tmp_path):
    """A dependant's resource specification travels with the template the engine keeps
    (chervil-py's splice): it gets its nodes and its dependency's value."""
    _need(shutil.which('mpiexec') is not None, "MPICH is not installed")
    fifo = tmp_path / 'gate'
    os.mkfifo(fifo)
    with chervil.load(mpi_config(tmp_path)) as dfk:
        first = nodes_after_gate(str(fifo), parsl_resource_specification={'num_nodes': 1, 'ranks_per_node': 1})
        second = nodes_after(first, parsl_resource_specification={'num_nodes': 2, 'ranks_per_node': 1})
        assert dfk.executors['mpi']._ix.splices_held()[0] == 1
        release(str(fifo))
        before, nodes = second.result(timeout=120)
    assert len(before) == 1 and len(nodes) == 2


def test_bad_specifications_are_invalid_resource_specification(tmp_path):
    with chervil.load(mpi_config(tmp_path, workers=1)):
        cases = {
            'cores': {'num_nodes': 1, 'cores': 2},
            'num_ranks 5 is not num_nodes 2': {'num_nodes': 2, 'ranks_per_node': 2, 'num_ranks': 5},
            'its block has 3': {'num_nodes': 4, 'ranks_per_node': 1},
            'whole number': {'num_nodes': 0, 'num_ranks': 1},
        }
        for words, spec in cases.items():
            e = prefix_and_nodes(0, parsl_resource_specification=spec).exception(timeout=60)
            assert isinstance(e, InvalidResourceSpecification) and words in str(e), (spec, e)
        e = plain().exception(timeout=60)
        assert isinstance(e, InvalidResourceSpecification) and 'num_nodes' in str(e)


def test_a_specification_on_a_plain_htex_is_refused(tmp_path):
    config = Config(executors=[HighThroughputExecutor(label='htex', provider=LocalProvider(init_blocks=1, max_blocks=1))],
                    run_dir=str(tmp_path / 'runinfo'), strategy='none')
    with chervil.load(config):
        e = prefix_and_nodes(0, parsl_resource_specification={'num_nodes': 1, 'num_ranks': 1}).exception(timeout=60)
        assert isinstance(e, InvalidResourceSpecification) and 'MPIExecutor' in str(e)


def test_mpi_executor_needs_the_simple_launcher():
    from chervil.errors import ConfigurationError
    with pytest.raises(ConfigurationError, match='SimpleLauncher'):
        MPIExecutor(provider=LocalProvider())
    with pytest.raises(ConfigurationError, match='mpi_launcher'):
        MPIExecutor(mpi_launcher='mpirun')


@pytest.fixture
def two_hosts(tmp_path):
    """Two network namespaces, each a "host" with its own address and an sshd, joined to this
    one by veth pairs; an ssh wrapper that reaches them with a key made here."""
    _need(os.geteuid() == 0 and shutil.which('ip') and shutil.which('ssh') and
          (shutil.which('sshd') or os.path.exists('/usr/sbin/sshd')), "needs root, iproute2 and openssh")
    sshd = shutil.which('sshd') or '/usr/sbin/sshd'
    n = os.getpid() % 200 + 20
    names = [(f'chvmpi{n}x{i}', f'chvm{n}h{i}', f'chvm{n}n{i}', f'10.{n}.{i}.1', f'10.{n}.{i}.2') for i in (1, 2)]

    def ip(*args, check=True):
        return subprocess.run(['ip', *args], check=check, capture_output=True, text=True)

    for key in ('host_key', 'id'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(tmp_path / key)], check=True)
    shutil.copy(tmp_path / 'id.pub', tmp_path / 'authorized_keys')
    os.makedirs('/run/sshd', exist_ok=True)
    pids = []
    try:
        for ns, host_if, ns_if, host_ip, ns_ip in names:
            ip('link', 'del', host_if, check=False)
            ip('netns', 'del', ns, check=False)
            ip('netns', 'add', ns)
            ip('link', 'add', host_if, 'type', 'veth', 'peer', 'name', ns_if)
            ip('link', 'set', ns_if, 'netns', ns)
            ip('addr', 'add', f'{host_ip}/24', 'dev', host_if)
            ip('link', 'set', host_if, 'up')
            for cmd in (['ip', 'addr', 'add', f'{ns_ip}/24', 'dev', ns_if], ['ip', 'link', 'set', ns_if, 'up'],
                        ['ip', 'link', 'set', 'lo', 'up'], ['ip', 'route', 'add', 'default', 'via', host_ip]):
                ip('netns', 'exec', ns, *cmd)
            conf = tmp_path / f'{ns}.conf'
            conf.write_text(f"Port 2222\nListenAddress {ns_ip}\nHostKey {tmp_path}/host_key\nPidFile {tmp_path}/{ns}.pid\n"
                            f"AuthorizedKeysFile {tmp_path}/authorized_keys\nPasswordAuthentication no\n"
                            "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                            "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n")
            ip('netns', 'exec', ns, sshd, '-f', str(conf), '-E', str(tmp_path / f'{ns}.log'))
        wrap = tmp_path / 'ssh'
        wrap.write_text(f"#!/bin/sh\nexec ssh -i {tmp_path}/id -p 2222 -o StrictHostKeyChecking=no "
                        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes \"$@\"\n")
        wrap.chmod(0o755)
        from test_htex import wait_until
        for _, _, _, _, ns_ip in names:
            wait_until(lambda: subprocess.run([str(wrap), ns_ip, 'true'], capture_output=True, timeout=10).returncode == 0,
                       30, f"sshd on {ns_ip}")
        pids = [int((tmp_path / f'{ns}.pid').read_text()) for ns, *_ in names]
        # mpiexec reaches each "host" over ssh with our key, and tells the ranks' proxies
        # to call back on the first veth's address (reachable from both namespaces).
        options = f'-launcher ssh -launcher-exec {wrap} -iface {names[0][1]}'
        yield [ns_ip for *_, ns_ip in names], options
    except subprocess.CalledProcessError as e:
        _need(False, f"could not make the namespaces: {e.stderr}")
    finally:
        for pid in pids:
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        for ns, host_if, *_ in names:
            ip('link', 'del', host_if, check=False)
            ip('netns', 'del', ns, check=False)


@bash_app
def where_ranks_run(stdout=None, stderr=None, parsl_resource_specification=None):
    # sleep: see tests/parsl_scripts/mpi_hello.py (Hydra and ranks that all exit at once)
    return ("$PARSL_MPI_PREFIX bash -c 'echo rank $PMI_RANK on "
            "$(ip -4 -o addr show scope global | awk \"{print \\$4}\" | cut -d/ -f1); sleep 0.3'")


def test_ranks_start_on_separate_hosts_over_ssh(tmp_path, two_hosts):
    _need(shutil.which('mpiexec') is not None, "MPICH is not installed")
    hosts, options = two_hosts
    with chervil.load(mpi_config(tmp_path, workers=2, nodes=hosts)):
        whole = tmp_path / 'whole.out'
        spec = {'num_nodes': 2, 'ranks_per_node': 2, 'launcher_options': options}
        assert where_ranks_run(stdout=str(whole), stderr=str(tmp_path / 'whole.err'),
                               parsl_resource_specification=spec).result(timeout=120) == 0
        # Two one-node tasks at once: each on its own host.
        halves = [tmp_path / f'half{i}.out' for i in range(2)]
        one = {'num_nodes': 1, 'ranks_per_node': 2, 'launcher_options': options}
        futures = [where_ranks_run(stdout=str(h), stderr=str(tmp_path / f'half{i}.err'), parsl_resource_specification=one)
                   for i, h in enumerate(halves)]
        assert [f.result(timeout=120) for f in futures] == [0, 0]
    assert sorted(whole.read_text().splitlines()) == [
        f'rank 0 on {hosts[0]}', f'rank 1 on {hosts[0]}', f'rank 2 on {hosts[1]}', f'rank 3 on {hosts[1]}']
    placed = [sorted(set(line.split(' on ')[1] for line in h.read_text().splitlines())) for h in halves]
    assert sorted(p[0] for p in placed) == sorted(hosts) and all(len(p) == 1 for p in placed)


def test_a_parsl_mpi_script_gives_what_it_gives_on_parsl(tmp_path):
    """The same MPIExecutor script, unchanged, under Parsl and under `python -m chervil run`:
    the same prefixes, counts and ranks."""
    _need(shutil.which('mpiexec') is not None, "MPICH is not installed")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'parsl_scripts', 'mpi_hello.py')
    nodefile = tmp_path / 'nodefile'
    nodefile.write_text(f'{socket.gethostname()}\nlocalhost\n')
    runs = {'chervil': [sys.executable, '-m', 'chervil', 'run', '--no-progress', script]}
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    if parsl_python:
        runs['parsl'] = [parsl_python, script]
    out = {}
    for name, cmd in runs.items():
        env = dict(os.environ)
        if name == 'parsl':  # Parsl's HTEX starts its interchange from the venv's bin folder
            env['PATH'] = os.pathsep.join([os.path.dirname(parsl_python), env.get('PATH', '')])
        proc = subprocess.run([*cmd, str(tmp_path / name), str(nodefile)], capture_output=True, text=True,
                              timeout=300, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = proc.stdout.splitlines()
    host = socket.gethostname()
    assert out['chervil'] == [f'mpiexec -n 4 -ppn 2 -hosts {host},localhost |2|4',
                              str([f'rank {r}' for r in range(4)]),
                              # Parsl derives ranks_per_node with '/': Chervil prints its '3.0' too
                              f'mpiexec -n 3 -ppn 3.0 -hosts {host} |1|3', str([f'rank {r}' for r in range(3)]), 'done']
    if 'parsl' in out:
        assert out['parsl'] == out['chervil']
    else:
        pytest.skip("CHERVIL_PARSL_PYTHON is not set: Chervil's output checked, no Parsl to compare with")


def test_more_nodes_than_a_batch_block_has_is_refused_at_submit(tmp_path):
    from chervil.providers import SlurmProvider
    provider = SlurmProvider(nodes_per_block=2, init_blocks=0, min_blocks=0, max_blocks=1, launcher=SimpleLauncher())
    config = Config(executors=[MPIExecutor(label='mpi', provider=provider)], run_dir=str(tmp_path / 'runinfo'),
                    strategy='none')
    with chervil.load(config):  # no block is started: the check needs none
        e = prefix_and_nodes(0, parsl_resource_specification={'num_nodes': 3, 'ranks_per_node': 1}).exception(timeout=30)
    assert isinstance(e, InvalidResourceSpecification) and 'nodes_per_block=2' in str(e), e
