"""HTEX blocks on a real Slurm (scripts/slurm-up.sh starts a one-node cluster):
sbatch, squeue, scancel, srun — nothing mocked."""
import os
import subprocess

import pytest

import chervil
from chervil import bash_app, python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor, MPIExecutor
from chervil.launchers import SimpleLauncher, SingleNodeLauncher, SrunLauncher, SrunMPILauncher
from chervil.providers import SlurmProvider
from batch_apps import park_in_block
from test_htex import _need, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope='module')
def slurm():
    _need(os.geteuid() == 0, "starting Slurm needs root")
    up = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'slurm-up.sh')], capture_output=True, text=True,
                        timeout=600)
    _need(up.returncode == 0, f"scripts/slurm-up.sh failed: {up.stderr[-2000:]}")
    yield


def our_jobs(prefix='chervil.'):
    out = subprocess.run(['squeue', '--noheader', '--format=%i %j %t'], capture_output=True, text=True, check=True)
    return [line.split() for line in out.stdout.splitlines() if prefix in line]


def slurm_config(tmp_path, launcher, blocks=1, retries=0):
    provider = SlurmProvider(launcher=launcher, init_blocks=blocks, max_blocks=blocks, exclusive=False,
                             walltime='00:05:00', worker_init=f'export PYTHONPATH={TESTS}')
    htex = HighThroughputExecutor(label='slurm_htex', provider=provider, max_workers_per_node=1,
                                  heartbeat_period=2, heartbeat_threshold=10)
    return Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), retries=retries, strategy='none')


@python_app
def job_env(x):
    import os
    return x, os.environ.get('SLURM_JOB_ID'), os.environ.get('SLURM_STEP_ID')



@pytest.mark.parametrize('launcher', [SingleNodeLauncher(), SrunLauncher(), SrunMPILauncher()],
                         ids=['single-node', 'srun', 'srun-mpi'])
def test_tasks_run_inside_slurm_jobs_and_nothing_is_left_queued(tmp_path, slurm, launcher):
    with chervil.load(slurm_config(tmp_path, launcher)) as dfk:
        htex = dfk.executors['slurm_htex']
        results = [f.result(timeout=120) for f in [job_env(i) for i in range(20)]]
        job = htex.blocks_to_job_id['0']
        assert [r[0] for r in results] == list(range(20))
        assert {r[1] for r in results} == {job}, "every task ran inside the block's Slurm job"
        if isinstance(launcher, (SrunLauncher, SrunMPILauncher)):
            assert all(r[2] is not None for r in results), "the pool was started by srun, as a job step"
        assert htex.status()['0'].state.name == 'RUNNING'
    wait_until(lambda: not [j for j in our_jobs() if j[0] == job], 30, "the block to leave squeue after cleanup")


def test_scancel_of_a_block_retries_its_task_on_the_other_block(tmp_path, slurm):
    with chervil.load(slurm_config(tmp_path, SingleNodeLauncher(), blocks=2, retries=1)) as dfk:
        htex = dfk.executors['slurm_htex']
        wait_until(lambda: len(htex.connected_managers()) == 2, 120, "both Slurm blocks' pools to connect")
        marker = tmp_path / 'parked'
        fut = park_in_block(str(marker), 'SLURM_JOB_ID')
        wait_until(lambda: marker.exists() and marker.read_text(), 60, "the task to start")
        victim = marker.read_text()
        subprocess.run(['scancel', victim], check=True, timeout=30)
        survivor = fut.result(timeout=120)
        assert survivor != victim and survivor in htex.blocks_to_job_id.values()
        wait_until(lambda: not [j for j in our_jobs() if j[0] == victim], 30, "the cancelled block to leave squeue")
    jobs = set(htex.blocks_to_job_id.values())
    wait_until(lambda: not [j for j in our_jobs() if j[0] in jobs], 30, "every block to leave squeue")


@python_app
def hold_until(gate, value):
    import os
    import time
    while not os.path.exists(gate):
        time.sleep(0.05)
    return value, os.environ['SLURM_JOB_ID']


def test_blocks_scale_out_for_waiting_tasks_and_in_when_idle(tmp_path, slurm):
    provider = SlurmProvider(init_blocks=0, min_blocks=0, max_blocks=2, exclusive=False, walltime='00:05:00',
                             worker_init=f'export PYTHONPATH={TESTS}')
    provider.status_polling_interval = 0.5
    htex = HighThroughputExecutor(label='slurm_htex', provider=provider, max_workers_per_node=1,
                                  heartbeat_period=2, heartbeat_threshold=10)
    config = Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='simple',
                    strategy_period=0.2, max_idletime=1)
    gate = tmp_path / 'gate'
    with chervil.load(config):
        assert our_jobs() == [], "init_blocks=0: nothing queued before there is work"
        futs = [hold_until(str(gate), i) for i in range(4)]
        wait_until(lambda: len([j for j in our_jobs() if j[2] == 'R']) == 2, 120,
                   "two running Slurm jobs (max_blocks) for four tasks")
        # A job Slurm shows running may not have its pool connected yet (on a busy box the
        # pool's Python takes seconds to start): opened before, one block runs every task.
        wait_until(lambda: len(htex.connected_managers()) == 2, 120, "both blocks' pools to connect")
        gate.touch()
        results = [f.result(timeout=120) for f in futs]
        assert sorted(v for v, _ in results) == [0, 1, 2, 3]
        assert {j for _, j in results} == set(htex.blocks_to_job_id.values())
        wait_until(lambda: our_jobs() == [], 60, "squeue to show no block once idle past max_idletime")
        assert {s.state.name for s in htex.status_facade.values()} == {'SCALED_IN'}


@bash_app
def srun_ranks(stdout=None, stderr=None, parsl_resource_specification=None):
    return ('echo "$PARSL_MPI_NODELIST|$PARSL_MPI_PREFIX"; '
            '$PARSL_MPI_PREFIX bash -c \'echo "rank $SLURM_PROCID of $SLURM_NTASKS in job $SLURM_JOB_ID"\'')


def test_mpi_tasks_launch_their_ranks_with_srun(tmp_path, slurm):
    # MPIExecutor(mpi_launcher='srun') on a real Slurm: the pool learns the block's nodes from
    # SLURM_JOB_NODELIST and each task's $PARSL_MPI_PREFIX is an srun job step on them.
    provider = SlurmProvider(launcher=SimpleLauncher(), init_blocks=1, max_blocks=1, exclusive=False,
                             nodes_per_block=1, cores_per_node=2, walltime='00:05:00',
                             worker_init=f'export PYTHONPATH={TESTS}')
    config = Config(executors=[MPIExecutor(label='slurm_mpi', mpi_launcher='srun', provider=provider,
                                           heartbeat_period=2, heartbeat_threshold=10)],
                    run_dir=str(tmp_path / 'runinfo'), strategy='none')
    out = tmp_path / 'srun.out'
    with chervil.load(config) as dfk:
        spec = {'num_nodes': 1, 'ranks_per_node': 2}
        assert srun_ranks(stdout=str(out), stderr=str(tmp_path / 'srun.err'),
                          parsl_resource_specification=spec).result(timeout=180) == 0
        job = dfk.executors['slurm_mpi'].blocks_to_job_id['0']
    lines = out.read_text().splitlines()
    node, prefix = lines[0].split('|')
    assert prefix == f'srun --ntasks 2 --ntasks-per-node 2 --nodelist {node} --nodes 1 '
    assert sorted(lines[1:]) == [f'rank {r} of 2 in job {job}' for r in range(2)]
