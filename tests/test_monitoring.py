"""Monitoring: Parsl's database, written by the engine, read back with SQL and by
Parsl's own parsl-visualize over HTTP."""
import logging
import os
import textwrap
import socket
import sqlite3
import subprocess
import sys
import urllib.request

import pytest
from typeguard import TypeCheckError

import chervil
from chervil import bash_app, python_app
from chervil.config import Config
from chervil.data_provider.files import File
from chervil.errors import ConfigurationError
from chervil.executors import HighThroughputExecutor, ThreadPoolExecutor
from chervil.monitoring import MonitoringHub
from chervil.providers import LocalProvider
from conftest import free_port
from test_htex import _need, wait_until


@python_app(cache=True)
def inc(x):
    return x + 1


@python_app
def boom(x):
    raise ValueError(f"boom {x}")


@bash_app
def hello(stdout=None, stderr=None):
    return 'echo hi'


def workflow(config):
    """Two tasks in a chain, one that fails twice (retries=1), one that fails by
    dependency, a bash app; returns the run's id and directory."""
    with chervil.load(config) as dfk:
        a = inc(1)
        b = inc(a)
        c = boom(b)
        d = inc(c)
        h = hello(stdout='hello.out')
        assert b.result() == 3 and h.result() == 0
        assert isinstance(c.exception(), ValueError) and d.exception() is not None
        return dfk.run_id, dfk.run_dir


def rows(db, sql, *args):
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


def monitored(tmp_path, executor=None, **hub):
    return Config(executors=[executor or ThreadPoolExecutor(label='threads')], retries=1, strategy='none',
                  run_dir=str(tmp_path / 'runinfo'), monitoring=MonitoringHub(**hub))


def test_hub_takes_parsls_parameters():
    hub = MonitoringHub(hub_address='127.0.0.1', hub_port=55055, hub_port_range=(55000, 56000),
                        workflow_name='w', workflow_version='1', monitoring_debug=True,
                        resource_monitoring_enabled=False, resource_monitoring_interval=1)
    assert (hub.workflow_name, hub.resource_monitoring_interval, hub.logging_endpoint) == ('w', 1, None)
    with pytest.raises(ConfigurationError, match="SQLite only"):
        MonitoringHub(logging_endpoint='postgresql://db.example/parsl')
    with pytest.raises(TypeCheckError, match='workflow_name'):
        MonitoringHub(workflow_name=7)
    with pytest.raises(TypeCheckError, match='monitoring'):
        Config(monitoring='yes')


def test_every_task_try_and_state_is_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_id, run_dir = workflow(monitored(tmp_path, workflow_name='demo'))
    db = str(tmp_path / 'runinfo' / 'monitoring.db')  # Parsl's default place
    [wf] = rows(db, "SELECT workflow_name, rundir, time_completed IS NOT NULL, tasks_completed_count, "
                    "tasks_failed_count FROM workflow WHERE run_id = ?", run_id)
    assert wf == ('demo', os.path.abspath(run_dir), 1, 3, 1)  # Parsl's counts: exec_done, failed
    tasks = rows(db, "SELECT task_id, task_func_name, task_depends, task_memoize, task_fail_count, task_stdout, "
                     "task_time_returned IS NOT NULL, task_hashsum IS NOT NULL FROM task WHERE run_id = ? "
                     "ORDER BY task_id", run_id)
    assert tasks == [(0, 'inc', '', '1', 0, '', 1, 1), (1, 'inc', '0', '1', 0, '', 1, 1),
                     (2, 'boom', '1', '0', 2, '', 1, 0), (3, 'inc', '2', '1', 1, '', 1, 0),
                     (4, 'hello', '', '0', 0, 'hello.out', 1, 0)]
    states = rows(db, "SELECT task_id, try_id, task_status_name FROM status WHERE run_id = ? "
                      "ORDER BY task_id, timestamp, rowid", run_id)
    by_task = {}
    for task_id, try_id, name in states:
        by_task.setdefault(task_id, []).append(f"{try_id}:{name}")
    # Parsl's sequence, the thread pool's running/running_ended included
    assert by_task[0] == ['0:pending', '0:launched', '0:running', '0:running_ended', '0:exec_done']
    assert by_task[2] == ['0:pending', '0:launched', '0:running', '0:running_ended', '0:fail_retryable',
                          '1:pending', '1:launched', '1:running', '1:running_ended', '1:failed']
    assert by_task[3] == ['0:pending', '0:dep_fail']
    tries = rows(db, "SELECT task_id, try_id, task_executor, task_try_time_launched IS NOT NULL, "
                     "task_try_time_running IS NOT NULL, task_try_time_returned IS NOT NULL, "
                     "task_fail_history, hostname FROM try WHERE run_id = ? ORDER BY task_id, try_id", run_id)
    assert [t[:2] for t in tries] == [(0, 0), (1, 0), (2, 0), (2, 1), (3, 0), (4, 0)]
    ran = [t for t in tries if t[0] != 3]
    assert all(t[2:6] == ('threads', 1, 1, 1) and t[7] == socket.gethostname() for t in ran)
    assert tries[2][6] == "ValueError('boom 3')"
    # the dependency failure's try, as Parsl writes it: never launched, returned, its error
    assert tries[4][2:7] == ('threads', 0, 0, 1, "DependencyError([(ValueError('boom 3'), 'task 2')], 3)")


def test_runs_append_and_memo_hits_are_recorded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / 'shared' / 'm.db'
    first, _ = workflow(monitored(tmp_path, logging_endpoint=f'sqlite:///{db}'))
    second, _ = workflow(monitored(tmp_path, logging_endpoint=f'sqlite:///{db}'))
    assert sorted(r[0] for r in rows(str(db), "SELECT run_id FROM workflow")) == sorted([first, second])
    assert rows(str(db), "SELECT count(*) FROM task GROUP BY run_id") == [(5,), (5,)]


def test_htex_records_tries_and_blocks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    run_id, _ = workflow(monitored(tmp_path, executor=htex))
    db = str(tmp_path / 'runinfo' / 'monitoring.db')
    assert rows(db, "SELECT count(*) FROM try WHERE run_id = ? AND task_executor = 'htex'", run_id) == [(6,)]  # the dependency failure's too
    blocks = rows(db, "SELECT executor_label, block_id, job_id IS NOT NULL, status FROM block WHERE run_id = ? "
                      "ORDER BY timestamp", run_id)
    assert blocks[0] == ('htex', '0', 1, 'PENDING') and blocks[-1] == ('htex', '0', 1, 'SCALED_IN')
    # Where and when each try ran, from the pool: Parsl's running/running_ended states too.
    tries = rows(db, "SELECT hostname, block_id, task_try_time_launched <= task_try_time_running, "
                     "task_try_time_running <= task_try_time_returned FROM try WHERE run_id = ? "
                     "AND task_try_time_launched IS NOT NULL", run_id)
    assert tries and all(t == (socket.gethostname(), '0', 1, 1) for t in tries), tries
    states = [r[0] for r in rows(db, "SELECT task_status_name FROM status WHERE run_id = ? AND task_id = 2 "
                                      "ORDER BY timestamp, rowid", run_id)]
    assert states == ['pending', 'launched', 'running', 'running_ended', 'fail_retryable',
                      'pending', 'launched', 'running', 'running_ended', 'failed']
    # Each pool is a node: one row when it joined, one when it left.
    nodes = rows(db, "SELECT hostname, block_id, worker_count, active, python_v FROM node WHERE run_id = ? "
                     "ORDER BY id", run_id)
    python_v = '.'.join(map(str, sys.version_info[:3]))
    assert nodes == [(socket.gethostname(), '0', 2, 1, python_v), (socket.gethostname(), '0', 2, 0, python_v)]


def test_a_database_that_cannot_be_written_never_fails_the_run(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    blocked = tmp_path / 'blocked.db'
    blocked.mkdir()  # a directory where the database file should be
    with caplog.at_level(logging.ERROR, logger='chervil'):
        workflow(monitored(tmp_path, logging_endpoint=f'sqlite:///{blocked}'))
    assert 'Monitoring could not record' in caplog.text and 'blocked.db' in caplog.text


def test_parsl_visualize_serves_a_chervil_database(tmp_path, monkeypatch):
    """Parsl's own parsl-visualize (from .venv-parsl) opens the database Chervil wrote
    and serves every page: workflows, one workflow, its tasks, a task, an app, resource
    usage, and the DAG both ways (drawn with graphviz's dot)."""
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    visualize = parsl_python and os.path.join(os.path.dirname(parsl_python), 'parsl-visualize')
    _need(bool(visualize) and os.path.exists(visualize),
          "parsl-visualize is not installed (make parsl-venv installs parsl[monitoring,visualization])")
    _need(bool(subprocess.run(['which', 'dot'], capture_output=True).returncode == 0),
          "graphviz's dot is missing (make system-deps)")
    monkeypatch.chdir(tmp_path)
    run_id, _ = workflow(monitored(tmp_path, workflow_name='visualized'))
    db = tmp_path / 'runinfo' / 'monitoring.db'
    port = free_port()
    log = open(tmp_path / 'visualize.log', 'wb')
    server = subprocess.Popen([visualize, '--port', str(port), f'sqlite:///{db}'], stdout=log, stderr=log)

    def get(path):
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=30) as r:
            return r.status, r.read().decode()

    def answering():
        try:
            return get('/')[0] == 200
        except OSError:
            return server.poll() is not None
    try:
        wait_until(answering, 60, "parsl-visualize to answer")
        assert server.poll() is None, (tmp_path / 'visualize.log').read_text()
        pages = {
            '/': ['visualized', run_id],
            f'/workflow/{run_id}/': ['visualized', 'inc', 'boom'],
            f'/workflow/{run_id}/task/': ['inc', 'boom', 'hello'],
            f'/workflow/{run_id}/task/2': ['boom'],
            f'/workflow/{run_id}/app/inc': ['inc'],
            f'/workflow/{run_id}/resource_usage': [],
            f'/workflow/{run_id}/dag_group_by_apps': ['inc'],
            f'/workflow/{run_id}/dag_group_by_states': ['exec_done'],
        }
        for path, expected in pages.items():
            status, body = get(path)
            assert status == 200, path
            for text in expected:
                assert text in body, f"{text!r} not on {path}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@python_app
def busy(seconds):
    """Burns CPU and holds memory long enough to be sampled."""
    import time
    hold = bytearray(64 * 2 ** 20)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
    return len(hold) + n * 0


def test_htex_pools_sample_the_processes_running_tasks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=1,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    config = monitored(tmp_path, executor=htex, resource_monitoring_interval=0.2)
    with chervil.load(config) as dfk:
        assert busy(1.5).result() == 64 * 2 ** 20
        run_id = dfk.run_id
    db = str(tmp_path / 'runinfo' / 'monitoring.db')
    samples = rows(db, "SELECT task_id, try_id, resource_monitoring_interval, psutil_process_pid, "
                       "psutil_process_time_user, psutil_process_memory_resident, psutil_process_memory_virtual, "
                       "psutil_process_status, psutil_process_memory_percent FROM resource WHERE run_id = ? "
                       "ORDER BY timestamp", run_id)
    assert len(samples) >= 4, samples  # every 0.2 s over 1.5 s of work
    assert {s[:3] for s in samples} == {(0, 0, 0.2)}
    assert len({s[3] for s in samples}) == 1 and samples[0][3] != os.getpid(), "the worker's pid"
    user_times = [s[4] for s in samples]
    assert user_times == sorted(user_times) and user_times[-1] > 0.3, "CPU time grows while it works"
    assert max(s[5] for s in samples) > 64 * 2 ** 20, "it held 64 MiB while it ran"
    assert all(s[6] >= s[5] for s in samples), "virtual memory covers the resident"
    assert {s[7] for s in samples} <= {'running', 'sleeping'} and 0 < samples[-1][8] < 100


def test_no_samples_without_resource_monitoring(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=1,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    config = monitored(tmp_path, executor=htex, resource_monitoring_enabled=False, resource_monitoring_interval=0.2)
    with chervil.load(config) as dfk:
        busy(0.6).result()
        run_id = dfk.run_id
    assert rows(str(tmp_path / 'runinfo' / 'monitoring.db'), "SELECT count(*) FROM resource WHERE run_id = ?",
                run_id) == [(0,)]


def test_every_task_is_sampled_at_least_once(tmp_path, monkeypatch):
    # Shorter than the interval, each task is still sampled as it ends (Parsl samples every
    # task too, so parsl-visualize's per-task charts are not empty): a full look at most
    # once per worker per interval, a glance at /proc/<pid>/stat otherwise.
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    with chervil.load(monitored(tmp_path, executor=htex, resource_monitoring_interval=30)) as dfk:
        assert [inc(i).result() for i in range(3)] == [1, 2, 3]
        assert sum(f.result() for f in [inc(i) for i in range(2000)]) == sum(range(1, 2001))
        run_id = dfk.run_id
    db = str(tmp_path / 'runinfo' / 'monitoring.db')
    # (inc is cached: three of the 2,000 are answered from memo, and never run)
    [(ran, sampled)] = rows(db, "SELECT (SELECT count(DISTINCT task_id) FROM try WHERE run_id = ?1 AND "
                                "task_try_time_running IS NOT NULL), "
                                "(SELECT count(DISTINCT task_id) FROM resource WHERE run_id = ?1)", run_id)
    assert ran == sampled == 2000
    # a glance keeps the counters of the worker's last full look; its own are fresh
    [(pids, min_rss, bad)] = rows(db, "SELECT count(DISTINCT psutil_process_pid), min(psutil_process_memory_resident), "
                                      "sum(psutil_process_time_user IS NULL) FROM resource WHERE run_id = ?", run_id)
    assert pids == 2 and min_rss > 1 << 20 and bad == 0


def test_pool_heartbeats_are_node_rows(tmp_path, monkeypatch):
    # As in Parsl, a node is recorded when its pool joins, at its heartbeats, and when it leaves.
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=1, heartbeat_period=0.3, heartbeat_threshold=10,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    with chervil.load(monitored(tmp_path, executor=htex)) as dfk:
        busy(1.5).result()  # the pool sends nothing else meanwhile, so it heartbeats
        run_id = dfk.run_id
    nodes = rows(str(tmp_path / 'runinfo' / 'monitoring.db'),
                 "SELECT active FROM node WHERE run_id = ? ORDER BY id", run_id)
    assert len(nodes) >= 4 and nodes[-1] == (0,) and all(n == (1,) for n in nodes[:-1]), nodes


SAME_WORKFLOW = textwrap.dedent('''
    import sqlite3, sys
    import parsl
    from parsl import bash_app, python_app
    from parsl.config import Config
    from parsl.executors import ThreadPoolExecutor
    from parsl.monitoring import MonitoringHub

    @python_app
    def inc(x):
        return x + 1

    @python_app
    def boom(x):
        raise ValueError(f'boom {x}')

    @bash_app
    def hello(stdout=None):
        return 'echo hello'

    if __name__ == '__main__':  # Parsl's monitoring starts processes that import this file
        config = Config(executors=[ThreadPoolExecutor(label='threads')], retries=1, strategy='none',
                        monitoring=MonitoringHub(hub_address='127.0.0.1', resource_monitoring_interval=0))
        with parsl.load(config):
            a = inc(1); b = inc(a); c = boom(b); d = inc(c); e = inc(d); h = hello(stdout='hello.out')
            b.result(); h.result(); c.exception(); d.exception(); e.exception()
        db = sqlite3.connect('runinfo/monitoring.db')
        for sql in ["SELECT tasks_completed_count, tasks_failed_count FROM workflow",
                    "SELECT task_id, task_func_name, task_depends, task_memoize, task_fail_count, task_fail_cost, "
                    "task_time_returned IS NOT NULL FROM task ORDER BY task_id",
                    "SELECT task_id, try_id, task_executor, task_try_time_launched IS NOT NULL, "
                    "task_try_time_running IS NOT NULL, task_try_time_returned IS NOT NULL, task_fail_history "
                    "FROM try ORDER BY task_id, try_id",
                    "SELECT task_id, try_id, task_status_name, count(*) FROM status GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"]:
            print(sql.split(' FROM ')[1].split()[0], [tuple(r) for r in db.execute(sql)])
''')


def test_the_same_workflow_writes_the_rows_parsl_writes(tmp_path):
    """One workflow (results, a failure with a retry, two dependency failures, a bash app)
    run on Parsl and on Chervil: the workflow counts, task rows, try rows and states are
    the same, so parsl-visualize and users' queries report the same run."""
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    _need(bool(parsl_python), "Parsl is not installed (make parsl-venv; CHERVIL_PARSL_PYTHON)")
    script = tmp_path / 'same.py'
    script.write_text(SAME_WORKFLOW)
    outputs = {}
    for engine, cmd in (('parsl', [parsl_python, str(script)]),
                        ('chervil', [sys.executable, '-m', 'chervil', 'run', str(script)])):
        where = tmp_path / engine
        where.mkdir()
        run = subprocess.run(cmd, cwd=where, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"{engine}: {run.stderr[-3000:]}"
        outputs[engine] = run.stdout.splitlines()
    assert len(outputs['parsl']) == 4
    for theirs, ours in zip(outputs['parsl'], outputs['chervil']):
        assert ours == theirs
