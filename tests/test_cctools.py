"""Work Queue and TaskVine executors on the real CCTools manager and real workers
(work_queue_worker, vine_worker, vine_factory), built by `make cctools`.

Every run uses port 0 (a free port) so runs never collide; workers come from LocalProvider
blocks, or from vine_factory for TaskVine's default 'factory' method."""
import os
import pytest

import chervil
from chervil import bash_app, python_app
from chervil.data_provider.files import File
from chervil.executors.errors import InvalidResourceSpecification
from conftest import make_config
from test_htex import _need, alive, wait_until

try:
    import ndcctools.taskvine  # noqa: F401
    import ndcctools.work_queue  # noqa: F401
    HAVE_CCTOOLS = True
except ImportError:
    HAVE_CCTOOLS = False


@pytest.fixture(autouse=True)
def _cctools():
    _need(HAVE_CCTOOLS, "CCTools' Python bindings are not built (make cctools)")


def workqueue(**kw):
    from chervil.executors import WorkQueueExecutor
    from chervil.providers import LocalProvider
    kw.setdefault('provider', LocalProvider(init_blocks=1, max_blocks=1))
    return WorkQueueExecutor(port=0, **kw)


def taskvine(method='provider', **kw):
    from chervil.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig
    from chervil.providers import LocalProvider
    manager = kw.pop('manager_config', None) or TaskVineManagerConfig(port=0)
    if method == 'provider':
        kw.setdefault('provider', LocalProvider(init_blocks=1, max_blocks=1))
    return TaskVineExecutor(worker_launch_method=method, manager_config=manager, **kw)


EXECUTORS = {
    'workqueue': lambda: workqueue(),
    'taskvine-provider': lambda: taskvine('provider'),
    'taskvine-factory': lambda: taskvine('factory'),
}


@python_app
def add(a, b):
    return a + b


@python_app
def fails(message):
    raise ValueError(message)


@bash_app
def greet(name, stdout='greeting.txt'):
    return f'echo hello {name}'


@bash_app
def exits(code):
    return f'exit {code}'


@python_app
def copy_upper(inputs=(), outputs=()):
    with open(inputs[0].filepath) as f, open(outputs[0].filepath, 'w') as g:
        g.write(f.read().upper())
    return outputs[0].filepath


@pytest.mark.parametrize('make', EXECUTORS.values(), ids=EXECUTORS.keys())
def test_apps_errors_and_files(tmp_path, make):
    """Python and bash apps, an app's own exception, a bash exit code, a staged stdout,
    File inputs and outputs moved by the manager (not a shared file system)."""
    from chervil.app.errors import BashExitFailure
    with chervil.load(make_config(tmp_path, executors=[make()])):
        assert add(1, 2).result(timeout=120) == 3
        assert sum(f.result(timeout=120) for f in [add(i, i) for i in range(20)]) == 380
        with pytest.raises(ValueError, match='the app said no'):
            fails('the app said no').result(timeout=120)
        assert greet('vine').result(timeout=120) == 0
        assert (tmp_path / 'greeting.txt').read_text() == 'hello vine\n'
        with pytest.raises(BashExitFailure) as e:
            exits(3).result(timeout=120)
        assert e.value.exitcode == 3
        (tmp_path / 'data').mkdir()
        (tmp_path / 'data' / 'in.txt').write_text('staged by the manager')
        out = copy_upper(inputs=[File('data/in.txt')], outputs=[File('data/out.txt')])
        out.result(timeout=120)
        assert (tmp_path / 'data' / 'out.txt').read_text() == 'STAGED BY THE MANAGER'


@python_app
def span(seconds, parsl_resource_specification=None):
    import time
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.parametrize('make', [
    lambda: workqueue(worker_options='--cores 2 --memory 2000 --disk 2000'),
    lambda: taskvine('provider', factory_config=_factory(worker_options='--cores 2 --memory 2000 --disk 2000')),
], ids=['workqueue', 'taskvine'])
def test_resource_specifications_are_honoured(tmp_path, make):
    """On one 2-core worker: two 1-core tasks run at once, two 2-core tasks one by one."""
    one = {'cores': 1, 'memory': 100, 'disk': 100}
    two = {'cores': 2, 'memory': 100, 'disk': 100}
    with chervil.load(make_config(tmp_path, executors=[make()])):
        span(0).result(timeout=120)  # the worker has connected
        a, b = span(2, parsl_resource_specification=one), span(2, parsl_resource_specification=one)
        assert _overlap(a.result(timeout=120), b.result(timeout=120)), "two 1-core tasks on 2 cores ran one by one"
        c, d = span(1, parsl_resource_specification=two), span(1, parsl_resource_specification=two)
        assert not _overlap(c.result(timeout=120), d.result(timeout=120)), "two 2-core tasks on 2 cores overlapped"


def _factory(**kw):
    from chervil.executors.taskvine import TaskVineFactoryConfig
    return TaskVineFactoryConfig(**kw)


def test_bad_resource_specifications_name_the_keys(tmp_path):
    with chervil.load(make_config(tmp_path, executors=[workqueue()])):
        with pytest.raises(InvalidResourceSpecification, match='cores, memory, and disk'):
            span(0, parsl_resource_specification={'cores': 1}).result(timeout=60)
        with pytest.raises(InvalidResourceSpecification, match='nodes'):
            span(0, parsl_resource_specification={'nodes': 2}).result(timeout=60)


@python_app
def record_pid_then_sleep(path, seconds):
    import os
    import time
    with open(path, 'a') as f:
        f.write(f'{os.getpid()}\n')
    time.sleep(seconds)
    return 'finished'


def _worker_of(pid: int, program: str) -> int:
    """The worker process a task runs under: up the parent chain to `program`."""
    while pid > 1:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            argv0 = f.read().split(b'\0')[0].decode()
        if os.path.basename(argv0) == program:
            return pid
        with open(f'/proc/{pid}/stat') as f:
            pid = int(f.read().rsplit(')', 1)[1].split()[1])
    raise AssertionError(f"no {program} above the task")


@pytest.mark.parametrize('kind', ['workqueue', 'taskvine'])
def test_a_worker_killed_mid_task_loses_nothing(tmp_path, kind):
    """Two blocks, each one worker; the worker running the task is killed with all it
    started (as when its node or its batch job dies: a vine_worker's own transfer-server
    child would otherwise keep its connection open). The manager gives the task to the
    other worker, which finishes it (the app runs twice) — or, when the manager counts
    the lost try against its max_retries (1, Parsl's default: Work Queue may), fails it with
    its TaskFailure and Config(retries=...) runs it again, as with Parsl."""
    from chervil.providers import LocalProvider
    provider = LocalProvider(init_blocks=2, min_blocks=2, max_blocks=2)
    executor = workqueue(provider=provider) if kind == 'workqueue' else taskvine('provider', provider=provider)
    program = 'work_queue_worker' if kind == 'workqueue' else 'vine_worker'
    pids = tmp_path / 'pids'
    with chervil.load(make_config(tmp_path, executors=[executor], retries=2)):
        fut = record_pid_then_sleep(str(pids), 5)
        wait_until(lambda: pids.exists() and pids.read_text().strip(), 120, "the task to start")
        victim = _worker_of(int(pids.read_text().split()[0]), program)
        group = os.getpgid(victim)
        assert group != os.getpgid(0), "the block shares the test's process group"
        os.killpg(group, 9)
        assert fut.result(timeout=180) == 'finished'
        assert len(pids.read_text().split()) >= 2
        assert not alive(victim)


@python_app
def pids():
    import os
    return os.getpid(), os.getppid()


def test_taskvine_serverless_keeps_one_python_process(tmp_path):
    """Serverless mode: a library process on the worker runs every call (no new Python
    per task), on a shared file system as Parsl requires without an env_pack."""
    from chervil.executors.taskvine import TaskVineManagerConfig
    executor = taskvine('factory', function_exec_mode='serverless',
                        manager_config=TaskVineManagerConfig(port=0, shared_fs=True))
    with chervil.load(make_config(tmp_path, executors=[executor])):
        assert add(2, 3).result(timeout=180) == 5
        with pytest.raises(ValueError, match='served'):
            fails('served').result(timeout=120)
        calls = [pids().result(timeout=120) for _ in range(4)]
        # Each call is forked from the one library process: one parent for all of them.
        assert len({parent for _, parent in calls}) == 1
        assert os.getpid() not in {parent for _, parent in calls}


def test_serverless_without_a_shared_file_system_or_environment_says_what_to_set():
    from chervil.errors import ConfigurationError
    from chervil.executors.taskvine import TaskVineExecutor
    with pytest.raises(ConfigurationError, match='shared_fs=True'):
        TaskVineExecutor(function_exec_mode='serverless')


def test_monitoring_rows_for_a_cctools_executor(tmp_path):
    """The try rows name the worker's host and block, as for any executor; each try has a
    resource row."""
    import sqlite3
    from chervil.monitoring import MonitoringHub
    db = tmp_path / 'monitoring.db'
    config = make_config(tmp_path, executors=[workqueue()],
                         monitoring=MonitoringHub(logging_endpoint=f'sqlite:///{db}', resource_monitoring_interval=1))
    with chervil.load(config):
        assert add(20, 22).result(timeout=120) == 42
        with pytest.raises(ValueError):
            fails('no').result(timeout=120)
    rows = sqlite3.connect(db).execute(
        "SELECT task.task_func_name, try.hostname, try.block_id, try.task_executor FROM try JOIN task "
        "ON try.task_id = task.task_id AND try.run_id = task.run_id ORDER BY task.task_id").fetchall()
    assert [r[0] for r in rows] == ['add', 'fails']
    assert all(r[1] for r in rows) and all(r[2] == '0' for r in rows)
    assert {r[3] for r in rows} == {'WorkQueueExecutor'}
    # One resource row per try, taken on the worker as the task ended (Parsl's monitor
    # wrapper samples on the worker too).
    samples = sqlite3.connect(db).execute(
        "SELECT task_id, try_id, psutil_process_pid, psutil_process_memory_resident, "
        "psutil_process_time_user + psutil_process_time_system FROM resource ORDER BY task_id").fetchall()
    assert [(s[0], s[1]) for s in samples] == [(0, 0), (1, 0)]
    assert all(s[2] and s[2] != os.getpid() and s[3] > 0 and s[4] > 0 for s in samples)


def test_shutdown_leaves_no_worker_or_manager_behind(tmp_path):
    executor = taskvine('factory')
    with chervil.load(make_config(tmp_path, executors=[executor])):
        add(1, 1).result(timeout=120)
        manager = executor._proc.pid
        ours = [p for p in _pids() if _under(p, manager) and _program(p) in ('vine_worker', 'vine_factory')]
        assert {_program(p) for p in ours} == {'vine_worker', 'vine_factory'}
    wait_until(lambda: not any(_running(p) for p in [manager, *ours]), 30, "the manager, factory and workers to exit")


def _pids():
    return [int(p) for p in os.listdir('/proc') if p.isdigit()]


def _program(pid: int) -> str:
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return os.path.basename(f.read().split(b'\0')[0].decode())
    except OSError:
        return ''


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper that never comes)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _under(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            with open(f'/proc/{pid}/stat') as f:
                pid = int(f.read().rsplit(')', 1)[1].split()[1])
        except OSError:
            return False
    return False


PARSL_DOCS_SCRIPT = '''
import parsl
from parsl import python_app, bash_app
from parsl.configs.{preset} import config

parsl.load(config)

@python_app
def hello(name):
    return f"Hello {{name}}"

@bash_app
def echo(message, stdout='echo.txt'):
    return f'echo {{message}}'

print(hello('World').result())
echo('from bash').result()
print(open('echo.txt').read().strip())
parsl.dfk().cleanup()
'''


@pytest.mark.parametrize('preset', ['wqex_local', 'vineex_local'])
def test_a_parsl_script_for_these_executors_runs_unchanged(tmp_path, preset):
    """Parsl's own preset configs for Work Queue and TaskVine (a project name, port 9123),
    in a script written as Parsl's docs write one (no __main__ guard), under `chervil run`."""
    from test_drop_in import run_script
    script = tmp_path / 'script.py'
    script.write_text(PARSL_DOCS_SCRIPT.format(preset=preset))
    assert run_script([str(script)], tmp_path, timeout=120) == ['Hello World', 'from bash']


@pytest.mark.parametrize('kind', ['workqueue', 'taskvine'])
def test_a_worker_without_the_runs_password_gets_nothing(tmp_path, kind):
    """With workers of its own on this machine, the executor makes a per-run password (0600)
    that its workers present; a worker started without it is turned away."""
    import stat
    import subprocess
    from chervil.executors.cctools import program
    from chervil.providers import LocalProvider
    provider = LocalProvider(init_blocks=1, max_blocks=1)
    executor = workqueue(provider=provider) if kind == 'workqueue' else taskvine('provider', provider=provider)
    name = 'work_queue_worker' if kind == 'workqueue' else 'vine_worker'
    with chervil.load(make_config(tmp_path, executors=[executor])):
        assert add(1, 1).result(timeout=120) == 2
        password = executor.worker_command.split('--password ')[1].split()[0]
        assert stat.S_IMODE(os.stat(password).st_mode) == 0o600
        rogue = subprocess.Popen([program(name), '127.0.0.1', str(executor._port), '--single-shot', '-t', '30'],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = rogue.communicate(timeout=60)
        finally:
            rogue.kill()
        assert 'password' in err, err
