"""Elasticity for real: LocalProvider blocks started, retired and replaced by the
strategy while real pools run real tasks."""
import functools
import os
import signal

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.errors import ConfigurationError
from chervil.executors import HighThroughputExecutor
from chervil.executors.errors import BadStateException
from chervil.jobs.error_handlers import windowed_error_handler
from chervil.jobs.states import JobState
from chervil.providers import LocalProvider
from test_htex import alive, wait_until


def scaling_config(tmp_path, provider, strategy='simple', retries=0, max_idletime=0.5, **kw):
    htex = HighThroughputExecutor(label='htex', provider=provider, max_workers_per_node=1, **kw)
    return Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), retries=retries, strategy=strategy,
                  strategy_period=0.1, max_idletime=max_idletime)


@python_app
def wait_for(gate, value):
    """Holds its worker until the test opens the gate (a file appears); says which
    pool runs it in ``<gate>.<value>``."""
    import os
    import time
    with open(f'{gate}.{value}', 'w') as f:
        f.write(str(os.getppid()))
    while not os.path.exists(gate):
        time.sleep(0.02)
    return value, os.getppid()


def states(htex):
    return {b: s.state for b, s in htex.status_facade.items()}


def engine_log(dfk):
    chervil._core.flush_log()
    with open(os.path.join(dfk.run_dir, 'chervil.log')) as f:
        return f.read()


def test_simple_scales_out_for_waiting_tasks_and_back_in_when_idle(tmp_path):
    provider = LocalProvider(init_blocks=0, min_blocks=0, max_blocks=3)
    gate = tmp_path / 'gate'
    with chervil.load(scaling_config(tmp_path, provider)) as dfk:
        htex = dfk.executors['htex']
        assert htex.blocks_to_job_id == {}, "init_blocks=0: nothing until there is work"
        futs = [wait_for(str(gate), i) for i in range(5)]
        wait_until(lambda: len(htex.connected_managers()) == 3, 30, "three blocks (max_blocks) for five tasks")
        assert len(htex.blocks_to_job_id) == 3, "never more than max_blocks"
        gate.touch()
        results = [f.result(timeout=30) for f in futs]
        assert sorted(v for v, _ in results) == list(range(5))
        pools = {pool for _, pool in results}
        assert len(pools) == 3
        wait_until(lambda: set(states(htex).values()) == {JobState.SCALED_IN}, 30,
                   "every block to be scaled in after max_idletime")
        wait_until(lambda: not any(alive(p) for p in pools), 30, "the retired pools to exit")
        assert htex.connected_managers() == []
        log = engine_log(dfk)
        assert 'scaling out' in log and 'scaling in' in log and 'max_idletime' in log, log[-3000:]


def test_htex_auto_scale_retires_the_idle_block_and_never_a_busy_one(tmp_path):
    provider = LocalProvider(init_blocks=2, min_blocks=0, max_blocks=2)
    gate = tmp_path / 'gate'
    with chervil.load(scaling_config(tmp_path, provider, strategy='htex_auto_scale')) as dfk:
        htex = dfk.executors['htex']
        fut = wait_for(str(gate), 'kept')
        wait_until(lambda: list(states(htex).values()).count(JobState.SCALED_IN) == 1, 30,
                   "the block without the task to be scaled in")
        # On a busy machine the surplus block can be retired before either pool connects
        # (its pool is then refused): the kept block's pool gets the task when it does.
        wait_until(lambda: any(m['tasks'] for m in htex.connected_managers()), 60, "the task's pool to hold it")
        busy = [m for m in htex.connected_managers() if m['tasks']]
        assert len(busy) == 1 and busy[0]['active'], htex.connected_managers()
        gate.touch()
        assert fut.result(timeout=30)[0] == 'kept', "the busy block's task finished where it ran"
        wait_until(lambda: set(states(htex).values()) == {JobState.SCALED_IN}, 30,
                   "the last block to go once idle")


def test_a_dead_block_is_replaced_and_its_task_retried_there(tmp_path):
    provider = LocalProvider(init_blocks=2, min_blocks=2, max_blocks=2)
    gate = tmp_path / 'gate'
    with chervil.load(scaling_config(tmp_path, provider, retries=1)) as dfk:
        htex = dfk.executors['htex']
        wait_until(lambda: len(htex.connected_managers()) == 2, 30, "two pools")
        first = wait_for(str(gate), 'again')
        started = tmp_path / 'gate.again'
        wait_until(lambda: started.exists() and started.read_text(), 30, "the task to start")
        victim = next(m for m in htex.connected_managers() if m['tasks'])
        victim_pid = int(started.read_text())
        os.kill(victim_pid, signal.SIGKILL)
        wait_until(lambda: len(htex.blocks_to_job_id) == 3, 30, "a third block replacing the dead one")
        wait_until(lambda: len(htex.connected_managers()) == 2, 30, "two pools again")
        gate.touch()
        value, pool = first.result(timeout=30)
        assert value == 'again' and pool != victim_pid
        assert states(htex)[victim['block_id']] in (JobState.FAILED, JobState.COMPLETED)
        assert 'below min_blocks=2' in engine_log(dfk)


def test_repeated_block_failures_stop_the_executor_with_the_blocks_own_words(tmp_path):
    provider = LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1,
                             worker_init='echo "no python on this node" >&2; exit 3')
    provider.status_polling_interval = 0.2
    handler = functools.partial(windowed_error_handler, threshold=3)
    with chervil.load(scaling_config(tmp_path, provider, block_error_handler=handler)) as dfk:
        htex = dfk.executors['htex']
        fut = wait_for(str(tmp_path / 'gate'), None)
        with pytest.raises(BadStateException) as e:
            fut.result(timeout=60)
        text = str(e.value)
        assert 'the last 3 blocks failed' in text and 'no python on this node' in text, text
        assert 'submit_scripts/' in text, "the message says where the block's stderr is"
        assert len(htex.blocks_to_job_id) == 3, "each failed block was replaced until the third"
        with pytest.raises(BadStateException):
            wait_for(str(tmp_path / 'gate'), None).result(timeout=10)


def test_strategy_none_starts_init_blocks_only(tmp_path):
    provider = LocalProvider(init_blocks=1, min_blocks=0, max_blocks=3)
    gate = tmp_path / 'gate'
    with chervil.load(scaling_config(tmp_path, provider, strategy='none', max_idletime=0)) as dfk:
        htex = dfk.executors['htex']
        futs = [wait_for(str(gate), i) for i in range(3)]
        wait_until(lambda: len(htex.connected_managers()) == 1, 30, "the initial block")
        dfk.job_status_poller.poll()  # one full round, on top of the thread's
        assert len(htex.blocks_to_job_id) == 1
        gate.touch()
        assert [f.result(timeout=30)[0] for f in futs] == [0, 1, 2]
        dfk.job_status_poller.poll()
        assert states(htex) == {'0': JobState.RUNNING}, "none never scales in either"


def test_scaling_settings_are_checked():
    with pytest.raises(ConfigurationError, match='strategy_period'):
        Config(strategy_period=0)
    with pytest.raises(ConfigurationError, match='max_idletime'):
        Config(max_idletime=-1)
    with pytest.raises(ConfigurationError, match="'htex_auto_scale'"):
        Config(strategy='fast')


class StatusFailsOnce(LocalProvider):
    """A provider of the script's own whose scheduler does not answer its first poll."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.polls = 0

    def status(self, job_ids):
        self.polls += 1
        if self.polls == 1:
            raise RuntimeError("squeue: error: slurm_load_jobs error: Socket timed out on send/recv")
        return super().status(job_ids)


class RefusesAfterFirst(LocalProvider):
    """A provider of the script's own whose scheduler takes one job and refuses the rest."""

    def submit(self, command, tasks_per_node, job_name="chervil.localprovider"):
        if getattr(self, 'taken', False):
            raise RuntimeError("sbatch: error: QOSMaxSubmitJobPerUserLimit")
        self.taken = True
        return super().submit(command, tasks_per_node, job_name)


def test_a_poll_the_provider_cannot_answer_changes_no_block(tmp_path):
    provider = StatusFailsOnce(init_blocks=1, max_blocks=1)
    provider.status_polling_interval = 0.1
    with chervil.load(scaling_config(tmp_path, provider, strategy='none')) as dfk:
        htex = dfk.executors['htex']
        (gate := tmp_path / 'gate').touch()
        assert wait_for(str(gate), 1).result(timeout=30)[0] == 1
        wait_until(lambda: provider.polls >= 3, 30, "polls after the failed one")
        assert states(htex) == {'0': JobState.RUNNING}, "never UNKNOWN for a scheduler that did not answer"
        assert 'could not say how the blocks are' in engine_log(dfk)


def test_a_block_the_provider_refuses_is_missing_and_the_run_goes_on(tmp_path):
    """Parsl's HTEX rule: a block none of whose pools ever registered is MISSING (here
    it never started); the error handler weighs it as failed, and block 0 goes on."""
    from chervil.monitoring import MonitoringHub
    db = tmp_path / 'monitoring.db'
    provider = RefusesAfterFirst(init_blocks=1, max_blocks=2)
    config = scaling_config(tmp_path, provider)
    config.monitoring = MonitoringHub(logging_endpoint=f'sqlite:///{db}')
    gate = tmp_path / 'gate'
    with chervil.load(config) as dfk:
        htex = dfk.executors['htex']
        futs = [wait_for(str(gate), i) for i in range(2)]
        wait_until(lambda: JobState.MISSING in states(htex).values(), 30, "the refused block")
        refused = htex.status_facade['1']
        assert refused.state == JobState.MISSING and 'QOSMaxSubmitJobPerUserLimit' in refused.message
        assert '1' not in htex.blocks_to_job_id, "no job for it"
        assert not htex.bad_state_is_set, "block 0 still runs"
        gate.touch()
        assert sorted(f.result(timeout=30)[0] for f in futs) == [0, 1]
    import sqlite3
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT status, job_id FROM block WHERE block_id = '1' ORDER BY timestamp").fetchall()
    assert rows[0] == ('MISSING', None), rows


def test_the_polling_interval_is_read_as_the_run_goes(tmp_path):
    provider = StatusFailsOnce(init_blocks=1, max_blocks=1)
    provider.status_polling_interval = 3600
    with chervil.load(scaling_config(tmp_path, provider, strategy='none')):
        (gate := tmp_path / 'gate').touch()
        assert wait_for(str(gate), 1).result(timeout=30)[0] == 1
        first = provider.polls
        provider.status_polling_interval = 0.1  # as Parsl reads it: at every poll
        wait_until(lambda: provider.polls >= first + 3, 30, "polls at the new interval")
