"""AdHocProvider against a real sshd on a loopback port, with keys made by the test:
HTEX blocks started, watched and cancelled over ssh."""
import os

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.executors.errors import ScalingFailed
from chervil.jobs.states import JobState
from chervil.providers import AdHocProvider
from conftest import free_port as _free_port
from test_htex import alive, wait_until

TESTS = os.path.dirname(os.path.abspath(__file__))


@python_app
def on_host():
    import os
    return os.getppid(), os.environ.get('SSH_CONNECTION') is not None


def test_blocks_run_over_ssh_and_are_cancelled_there(tmp_path, sshd):
    provider = AdHocProvider(hosts=['127.0.0.1', 'localhost'], ssh_options=sshd,
                             worker_init=f'export PYTHONPATH={TESTS}')
    htex = HighThroughputExecutor(label='ssh_htex', provider=provider, max_workers_per_node=1,
                                  heartbeat_period=2, heartbeat_threshold=10)
    config = Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='none')
    with chervil.load(config):
        wait_until(lambda: len(htex.connected_managers()) == 2, 60, "a pool on each ssh host")
        results = [f.result(timeout=60) for f in [on_host() for _ in range(10)]]
        assert all(over_ssh for _, over_ssh in results), "the pools were started by sshd sessions"
        pools = {pool for pool, _ in results}
        assert len(htex.blocks_to_job_id) == 2
        assert all(s.state == JobState.RUNNING for s in htex.status().values())
        retired = htex.scale_in(1)
        wait_until(lambda: len(htex.connected_managers()) == 1, 30, "the cancelled block's pool to go")
        assert htex.status()[retired[0]].state in (JobState.SCALED_IN, JobState.CANCELLED)
    wait_until(lambda: not any(alive(p) for p in pools), 30, "every pool started over ssh to exit after cleanup")


def test_an_unreachable_host_is_a_clear_error(tmp_path, sshd):
    options = [o if o != sshd[3] else str(_free_port()) for o in sshd]  # the same key, a closed port
    provider = AdHocProvider(hosts=['127.0.0.1'], ssh_options=options, cmd_timeout=10)
    htex = HighThroughputExecutor(label='ssh_htex', provider=provider)
    with pytest.raises(ScalingFailed, match='Connection refused'):
        chervil.load(Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='none'))
    chervil.clear()
