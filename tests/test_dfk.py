"""Loading, the default DFK, cleanup, exit modes and configuration errors."""
import logging
import os
import subprocess
import sys
import threading

import pytest
from typeguard import TypeCheckError

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.errors import ConfigurationError, NoDataFlowKernelError
from chervil.executors import ThreadPoolExecutor


@python_app
def ident(x):
    return x


def test_load_returns_dfk_and_context_manager(config_for):
    with chervil.load(config_for()) as d:
        assert chervil.dfk() is d
        assert ident(1).result() == 1
        assert os.path.isdir(d.run_dir) and os.path.basename(d.run_dir) == '000'
        assert os.path.exists(os.path.join(d.run_dir, 'parsl.log'))
    assert d.cleanup_called
    with pytest.raises(NoDataFlowKernelError):
        chervil.dfk()
    with chervil.load(config_for()) as d2:
        assert os.path.basename(d2.run_dir) == '001'


def test_a_log_that_cannot_be_closed_does_not_stop_cleanup(config_for, capfd):
    """A full disk under the run directory (the chaos soak's) used to raise ENOSPC out of
    cleanup, from closing parsl.log: the run's end must not depend on its log's last lines."""
    d = chervil.load(config_for())
    assert ident(2).result() == 2
    handler = d._log_handler
    real_close = handler.close

    def full_disk():
        real_close()
        raise OSError(28, "No space left on device")
    handler.close = full_disk
    d.cleanup()
    assert d.cleanup_called
    assert "could not close parsl.log" in capfd.readouterr().err
    with pytest.raises(NoDataFlowKernelError):
        chervil.dfk()


def test_load_twice(config_for):
    chervil.load(config_for())
    with pytest.raises(ConfigurationError, match='already been loaded'):
        chervil.load(config_for())
    chervil.dfk().cleanup()
    chervil.load(config_for()).cleanup()


def test_clear_allows_another_load(config_for):
    first = chervil.load(config_for())
    chervil.clear()
    second = chervil.load(config_for())
    assert second is not first
    first.cleanup()
    assert chervil.dfk() is second, "cleaning up a DFK that is no longer loaded leaves the loaded one alone"


def test_app_before_load_is_parsls_error():
    # As Parsl: no config loaded is an error at the call, with Parsl's exact words;
    # and a `with load(...)` block leaves nothing loaded behind it.
    with pytest.raises(NoDataFlowKernelError) as info:
        ident(5)
    assert str(info.value) == "Must first load config"
    with chervil.load(Config(executors=[ThreadPoolExecutor(label='threads')])) as d:
        assert ident(5).result() == 5
    assert d.cleanup_called
    with pytest.raises(NoDataFlowKernelError):
        chervil.dfk()


def test_submit_after_cleanup(config_for):
    d = chervil.load(config_for())
    d.cleanup()
    with pytest.raises(NoDataFlowKernelError, match='cleaned up'):
        d.submit(lambda: 1, (), executors='all')
    with pytest.raises(Exception, match='already been cleaned up'):
        d.cleanup()


def test_explicit_data_flow_kernel(config_for):
    d = chervil.load(config_for())
    chervil.clear()

    @python_app(data_flow_kernel=d)
    def f():
        return 'mine'

    assert f().result() == 'mine'
    d.cleanup()


def test_exit_mode_wait(config_for):
    gate = threading.Event()

    @python_app
    def slow():
        gate.wait(10)
        return 1

    with chervil.load(config_for(exit_mode='wait')):
        fs = [slow() for _ in range(3)]
        threading.Timer(0.1, gate.set).start()
    assert all(f.done() for f in fs)


def test_exit_mode_skip(config_for):
    with chervil.load(config_for(exit_mode='skip')) as d:
        pass
    assert not d.cleanup_called
    d.cleanup()


def test_wait_for_current_tasks(config_for):
    gate = threading.Event()

    @python_app
    def slow(x):
        gate.wait(10)
        return x

    chervil.load(config_for())
    fs = [slow(i) for i in range(5)]
    threading.Timer(0.1, gate.set).start()
    chervil.wait_for_current_tasks()
    assert all(f.done() for f in fs)


def test_multiple_executors(config_for):
    @python_app(executors=['b'])
    def where():
        return threading.current_thread().name

    cfg = config_for(executors=[ThreadPoolExecutor(label='a'), ThreadPoolExecutor(label='b')])
    with chervil.load(cfg):
        assert 'ThreadPoolExecutor-b' in where().result()


@pytest.mark.parametrize("kwargs, match", [
    (dict(executors=[ThreadPoolExecutor(label='x'), ThreadPoolExecutor(label='x')]), "unique labels.*'x'"),
    (dict(executors=['threads']), "not an executor"),
    (dict(retries=-1), "retries"),
    (dict(strategy='fast'), "strategy"),
    (dict(checkpoint_mode='sometimes'), "checkpoint_mode"),
    (dict(usage_tracking=7), "Usage Tracking"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        Config(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(exit_mode='later'), "exit_mode"),
    (dict(retries='3'), "retries"),
    (dict(run_dir=5), "run_dir"),
])
def test_config_type_errors_are_parsls(kwargs, name):
    # As Parsl: a value of the wrong type is typeguard's TypeCheckError naming the argument.
    with pytest.raises(TypeCheckError, match=f'argument "{name}"'):
        Config(**kwargs)


def test_config_defaults():
    c = Config()
    assert [type(e).__name__ for e in c.executors] == ['ThreadPoolExecutor']
    assert (c.retries, c.run_dir, c.exit_mode, c.strategy, c.strategy_period, c.max_idletime,
            c.garbage_collect, c.internal_tasks_max_threads) == (0, 'runinfo', 'cleanup', 'simple', 5, 120.0,
                                                                 True, 10)
    t = ThreadPoolExecutor()
    assert (t.label, t.max_threads) == ('threads', 2)
    with pytest.raises(ConfigurationError, match='max_threads'):
        ThreadPoolExecutor(max_threads=0)


def test_no_garbage_collection_keeps_records(config_for):
    with chervil.load(config_for(garbage_collect=False)) as d:
        fs = [ident(i) for i in range(5)]
        [f.result() for f in fs]
        assert sorted(d.tasks) == [f.tid for f in fs]


def test_resource_specification_rejected_by_threads(dfk):
    @python_app
    def f(parsl_resource_specification={}):
        return 1

    from chervil.executors.errors import InvalidResourceSpecification
    with pytest.raises(InvalidResourceSpecification, match='cores'):
        f(parsl_resource_specification={'cores': 2}).result()


def test_parsl_task_records_only_when_someone_listens(tmp_path):
    # Parsl's per-task log records (which its tests and tools filter on) reach a listener;
    # without one, no per-task record is even made: that costs a quarter of the client's
    # throughput at 15,000 tasks/s.
    script = tmp_path / 'count.py'
    script.write_text(
        "import logging, sys\n"
        "import chervil\n"
        "from chervil.config import Config\n"
        "made = []\n"
        "real = logging.Logger.makeRecord\n"
        "logging.Logger.makeRecord = lambda self, *a, **k: made.append(a[5] if len(a) > 5 else None) or real(self, *a, **k)\n"
        "@chervil.python_app\n"
        "def one():\n"
        "    return 1\n"
        "if sys.argv[1] == 'listen':\n"
        "    logging.basicConfig(level=logging.WARNING)  # a root handler, as many scripts have\n"
        "with chervil.load(Config(run_dir=sys.argv[2])):\n"
        "    a = one()\n"
        "    b = [one() for _ in range(200)]\n"
        "    print(sum(f.result() for f in b) + a.result())\n"
        "print(len(made))\n")
    quiet = subprocess.run([sys.executable, str(script), 'quiet', str(tmp_path / 'q')], capture_output=True,
                           text=True, timeout=60, check=True).stdout.split()
    loud = subprocess.run([sys.executable, str(script), 'listen', str(tmp_path / 'l')], capture_output=True,
                          text=True, timeout=60, check=True).stdout.split()
    assert quiet[0] == loud[0] == '201'
    assert int(quiet[1]) < 20, "per-task records were made with nobody listening"
    assert int(loud[1]) >= 201, "a listener gets a record per task, as in Parsl"
