"""HTEX blocks on a real Grid Engine (scripts/gridengine-up.sh starts a one-host cell):
qsub, qstat, qdel — nothing mocked."""
import os
import subprocess

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import GridEngineProvider
from batch_apps import park_in_block
from test_htex import _need, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope='module')
def gridengine():
    _need(os.geteuid() == 0, "starting Grid Engine needs root")
    up = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'gridengine-up.sh')], capture_output=True,
                        text=True, timeout=600)
    _need(up.returncode == 0, f"scripts/gridengine-up.sh failed: {up.stderr[-2000:]}")
    yield


def queued():
    """Job ids Grid Engine still knows about (qstat prints nothing when there are none)."""
    out = subprocess.run(['qstat'], capture_output=True, text=True, check=True, timeout=30)
    return {line.split()[0] for line in out.stdout.splitlines()[2:] if line.strip()}


def ge_config(tmp_path, blocks=1, retries=0):
    provider = GridEngineProvider(init_blocks=blocks, max_blocks=blocks, walltime='00:05:00',
                                  worker_init=f'export PYTHONPATH={TESTS}')
    provider.status_polling_interval = 0.5
    htex = HighThroughputExecutor(label='ge_htex', provider=provider, max_workers_per_node=1,
                                  heartbeat_period=2, heartbeat_threshold=10)
    return Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), retries=retries, strategy='none')


@python_app
def job_id(x):
    import os
    return x, os.environ.get('JOB_ID')



def test_tasks_run_inside_grid_engine_jobs_and_nothing_is_left_queued(tmp_path, gridengine):
    with chervil.load(ge_config(tmp_path)) as dfk:
        htex = dfk.executors['ge_htex']
        results = [f.result(timeout=120) for f in [job_id(i) for i in range(20)]]
        job = htex.blocks_to_job_id['0']
        assert [r[0] for r in results] == list(range(20))
        assert {r[1] for r in results} == {job}, "every task ran inside the block's Grid Engine job"
        assert htex.status()['0'].state.name == 'RUNNING'
    wait_until(lambda: job not in queued(), 30, "the block to leave qstat after cleanup")


def test_qdel_of_a_block_retries_its_task_on_the_other_block(tmp_path, gridengine):
    with chervil.load(ge_config(tmp_path, blocks=2, retries=1)) as dfk:
        htex = dfk.executors['ge_htex']
        wait_until(lambda: len(htex.connected_managers()) == 2, 120, "both Grid Engine blocks' pools to connect")
        marker = tmp_path / 'parked'
        fut = park_in_block(str(marker), 'JOB_ID')
        wait_until(lambda: marker.exists() and marker.read_text(), 60, "the task to start")
        victim = marker.read_text()
        subprocess.run(['qdel', victim], check=True, capture_output=True, timeout=30)
        survivor = fut.result(timeout=120)
        assert survivor != victim and survivor in htex.blocks_to_job_id.values()
        wait_until(lambda: victim not in queued(), 30, "the deleted block to leave qstat")
        block = next(b for b, j in htex.blocks_to_job_id.items() if j == victim)
        wait_until(lambda: htex.status()[block].terminal, 30, "the deleted block to be seen as ended")
    jobs = set(htex.blocks_to_job_id.values())
    wait_until(lambda: not (jobs & queued()), 30, "every block to leave qstat")
