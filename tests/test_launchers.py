"""Launchers for real: MPI (Debian's mpich), GNU parallel and a wrapper really
start the pools of LocalProvider blocks, which then run tasks. aprun and jsrun exist
only on Cray and IBM machines: their scripts are checked in the engine's tests."""
import shutil

import pytest

import chervil
from chervil import python_app
from chervil.launchers import (AprunLauncher, GnuParallelLauncher, JsrunLauncher, MpiExecLauncher, MpiRunLauncher,
                               SimpleLauncher, SingleNodeLauncher, SrunLauncher, SrunMPILauncher, WrappedLauncher)
from chervil.providers import LocalProvider
from test_htex import _need, htex_config, wait_until


@python_app
def where():
    import os
    rank = os.environ.get('PMI_RANK', os.environ.get('OMPI_COMM_WORLD_RANK'))
    return os.getppid(), rank, os.environ.get('CHERVIL_WRAPPED')


def run_pools(tmp_path, launcher, copies):
    provider = LocalProvider(nodes_per_block=copies, launcher=launcher)
    with chervil.load(htex_config(tmp_path, provider=provider, max_workers_per_node=1)) as dfk:
        htex = dfk.executors['htex']
        wait_until(lambda: len(htex.connected_managers()) == copies, 60, f"{copies} pools to connect")
        return [f.result(timeout=60) for f in [where() for _ in range(4 * copies)]]


@pytest.mark.parametrize('launcher', [MpiExecLauncher(), MpiRunLauncher()], ids=['mpiexec', 'mpirun'])
def test_mpi_launchers_start_a_pool_per_rank(tmp_path, launcher):
    _need(shutil.which('mpiexec') is not None, "mpich is not installed (make system-deps)")
    results = run_pools(tmp_path, launcher, copies=2)
    assert len({pool for pool, _, _ in results}) == 2
    assert {rank for _, rank, _ in results} == {'0', '1'}, "each pool is an MPI rank"


def test_gnu_parallel_starts_every_pool(tmp_path):
    _need(shutil.which('parallel') is not None, "GNU parallel is not installed (make system-deps)")
    results = run_pools(tmp_path, GnuParallelLauncher(), copies=2)
    assert len({pool for pool, _, _ in results}) == 2


def test_wrapped_launcher_runs_the_pool_behind_its_prefix(tmp_path):
    results = run_pools(tmp_path / 'w', WrappedLauncher(prepend='env CHERVIL_WRAPPED=yes'), copies=1)
    assert {w for _, _, w in results} == {'yes'}


def test_every_parsl_launcher_is_here_with_its_options():
    cmd = 'python -m chervil.pool --x'
    assert SimpleLauncher()(cmd, 4, 2) == cmd
    assert 'CMD $COUNT' in SingleNodeLauncher(debug=False)(cmd, 2, 1)
    assert 'srun --ntasks=4 -l --mpi=none' in SrunLauncher(overrides='--mpi=none')(cmd, 2, 2)
    assert '--exclusive --nodes=$PER_COPY' in SrunMPILauncher()(cmd, 1, 2)
    assert 'aprun -n 8 -N 4 -cc none' in AprunLauncher(overrides='-cc none')(cmd, 4, 2)
    assert 'jsrun -n 6 -r 2' in JsrunLauncher()(cmd, 2, 3)
    assert 'mpiexec -bind-to none' in MpiExecLauncher(bind_cmd='-bind-to')(cmd, 1, 1)
    assert 'mpirun -np 3 --oversubscribe /usr/bin/bash' in MpiRunLauncher(bash_location='/usr/bin/bash',
                                                                          overrides='--oversubscribe')(cmd, 3, 1)
    for launcher in (SrunLauncher(), MpiExecLauncher(), GnuParallelLauncher(), AprunLauncher()):
        script = launcher(cmd, 1, 1, '/runs/submit')
        assert "<<'CHERVIL_CMD_EOF'\n" + cmd in script, "the command goes to a private file, unexpanded"
        assert 'SCRIPT_DIR="/runs/submit"\n' in script and '${SCRIPT_DIR:+$SCRIPT_DIR/}cmd_' in script
