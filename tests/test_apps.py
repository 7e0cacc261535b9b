"""Python, bash and join apps on the thread pool: the semantics Parsl users rely on."""
import concurrent.futures as cf
import signal
import threading
import time

import pytest
from typeguard import TypeCheckError

import chervil
from chervil import bash_app, join_app, python_app
from chervil.app.errors import (AppBadFormatting, AppTimeout, BadStdStreamFile, BashAppNoReturn,
                                BashExitFailure, MissingOutputs)
from chervil.app.futures import DataFuture
from chervil.data_provider.files import File
from chervil.dataflow.errors import DependencyError, JoinError
from chervil.dataflow.futures import AppFuture
from chervil.dataflow.states import States


@python_app
def add(a, b=0):
    return a + b


@python_app
def boom(msg='boom'):
    raise RuntimeError(msg)


@python_app
def total(*args, inputs=()):
    return sum(args) + sum(inputs)


def test_decorator_forms(dfk):
    @python_app()
    def one():
        return 1

    @python_app(executors=['threads'], cache=True, ignore_for_cache=['x'])
    def two(x=None):
        return 2

    assert one().result() == 1 and two().result() == 2
    assert python_app(lambda: 3)().result() == 3


def test_future_attributes(dfk):
    f = add(1, 2)
    assert isinstance(f, AppFuture) and isinstance(f, cf.Future)
    assert f.result() == 3
    rec = f.task_record
    for key in ('id', 'func_name', 'status', 'try_id', 'fail_count', 'depends', 'time_invoked', 'time_returned'):
        assert key in rec, key
    assert rec['func_name'] == 'add' and rec['status'] == States.exec_done and f.task_status() == 'exec_done'
    assert rec['time_returned'] >= rec['time_invoked']
    assert f.tid == rec['id'] and f.outputs == [] and f.stdout is None
    assert [add(0).tid for _ in range(3)] == [f.tid + 1, f.tid + 2, f.tid + 3]


def test_dependencies_everywhere(dfk):
    a, b, c = add(1), add(2), add(3)
    assert total(a, b, inputs=[c, 4]).result() == 10
    assert add(a, b=b).result() == 3
    # a chain
    f = add(0)
    for _ in range(50):
        f = add(f, 1)
    assert f.result() == 50


def test_dependency_waits(dfk):
    gate = threading.Event()

    @python_app
    def slow():
        gate.wait(10)
        return 'slow'

    s = slow()
    d = add(s, '!')
    time.sleep(0.05)
    assert not d.done() and d.task_status() == 'pending'
    gate.set()
    assert d.result() == 'slow!'


def test_failure_and_dependency_error(dfk):
    bad = boom('kaput')
    with pytest.raises(RuntimeError, match='kaput'):
        bad.result()
    assert bad.task_status() == 'failed'
    child = add(bad, 1)
    grandchild = add(child, 1)
    with pytest.raises(DependencyError) as info:
        child.result()
    err = info.value
    assert err.task_id == child.tid
    assert [(type(e), d) for e, d in err.dependent_exceptions_tids] == [(RuntimeError, f"task {bad.tid}")]
    assert isinstance(err.__cause__, RuntimeError)
    assert child.task_status() == 'dep_fail'
    with pytest.raises(DependencyError) as info:
        grandchild.result()
    assert isinstance(info.value.__cause__, RuntimeError), "the root cause is found through the chain"
    assert f"task {child.tid}" in str(info.value)
    # the DFK keeps working
    assert add(2, 2).result() == 4


def test_dependency_error_lists_every_failed_dependency(dfk):
    b1, b2, ok = boom('one'), boom('two'), add(1)
    with pytest.raises(DependencyError) as info:
        total(b1, ok, inputs=[b2]).result()
    assert sorted(str(e) for e, _ in info.value.dependent_exceptions_tids) == ['one', 'two']


def test_external_future_dependency(dfk):
    with cf.ThreadPoolExecutor(1) as pool:
        gate = threading.Event()
        ext = pool.submit(lambda: gate.wait(10) and 5)
        f = add(ext, 1)
        assert not f.done()
        gate.set()
        assert f.result() == 6
        failed = pool.submit(lambda: 1 / 0)
        with pytest.raises(DependencyError) as info:
            add(failed).result()
        assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_unknown_executor_label(dfk):
    @python_app(executors=['nope'])
    def f():
        return 1

    with pytest.raises(ValueError, match=r"\['nope'\].*threads"):
        f()
    assert add(1).result() == 1


def test_not_callable():
    with pytest.raises(TypeError, match='function'):
        python_app(42)
    with pytest.raises(TypeError, match='function'):
        bash_app("echo hi")
    with pytest.raises(TypeError, match='list'):
        python_app(executors='threads')(lambda: 1)


def test_outputs_give_data_futures(dfk, tmp_path):
    @python_app
    def write(text, outputs=()):
        with open(outputs[0], 'w') as f:
            f.write(text)
        return 'written'

    @python_app
    def read(inputs=()):
        with open(inputs[0]) as f:
            return f.read()

    target = File(str(tmp_path / 'out.txt'))
    w = write('payload', outputs=[target])
    assert len(w.outputs) == 1 and isinstance(w.outputs[0], DataFuture)
    assert w.outputs[0].tid == w.tid and w.outputs[0].filepath == str(tmp_path / 'out.txt')
    assert read(inputs=[w.outputs[0]]).result() == 'payload'
    assert isinstance(w.outputs[0].result(), File)
    with pytest.raises(TypeError, match='File'):
        write('x', outputs=[str(tmp_path / 'plain.txt')])


def test_retries(config_for):
    attempts = []

    @python_app
    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError(f'attempt {len(attempts)}')
        return len(attempts)

    with chervil.load(config_for(retries=2)):
        f = flaky()
        assert f.result() == 3
        assert f.task_record['try_id'] == 2 and f.task_record['fail_count'] == 2

    with chervil.load(config_for(retries=1)):
        attempts.clear()
        with pytest.raises(ValueError, match='attempt 2'):
            flaky().result()


def test_retry_handler_cost(config_for):
    seen = []

    def handler(e, record):
        seen.append((type(e).__name__, record['fail_count']))
        return 10 if isinstance(e, KeyError) else 0.5

    @python_app
    def fails_with(kind):
        raise kind('x')

    with chervil.load(config_for(retries=2, retry_handler=handler)):
        with pytest.raises(KeyError):
            fails_with(KeyError).result()
        assert seen == [('KeyError', 1)], "an expensive failure is not retried"
        seen.clear()
        with pytest.raises(ValueError):
            fails_with(ValueError).result()
        assert len(seen) == 5, "cost 0.5 each: tried while the total stays within 2"


def test_retry_handler_that_raises(config_for):
    def handler(e, record):
        raise RuntimeError('handler broke')

    with chervil.load(config_for(retries=5, retry_handler=handler)):
        with pytest.raises(RuntimeError, match='handler broke'):
            boom().result()


def test_python_walltime(dfk):
    @python_app
    def spin(walltime=None):
        end = time.time() + 30
        while time.time() < end:
            pass
        return 'finished'

    start = time.time()
    with pytest.raises(AppTimeout):
        spin(walltime=0.3).result()
    assert time.time() - start < 10


def test_join_app(dfk):
    @join_app
    def fan(n):
        return [add(i, i) for i in range(n)]

    @join_app
    def single(x):
        return add(x, 1)

    @join_app
    def nested(x):
        return single(x)

    assert fan(4).result() == [0, 2, 4, 6]
    assert single(1).result() == 2
    assert nested(5).result() == 6
    assert fan(0).result() == []
    j = single(add(1))
    assert add(j, 1).result() == 3


def test_join_failures(dfk):
    @join_app
    def joins_failure():
        return [add(1), boom('inner')]

    @join_app
    def returns_plain():
        return 42

    with pytest.raises(JoinError) as info:
        joins_failure().result()
    assert [str(e) for e, _ in info.value.dependent_exceptions_tids] == ['inner']
    with pytest.raises(TypeError, match='Future'):
        returns_plain().result()


def test_deferred_item_and_attribute(dfk):
    @python_app
    def pair():
        return {'a': 1, 'b': (2, 3)}

    p = pair()
    assert p['a'].result() == 1
    assert p['b'][1].result() == 3

    class Thing:
        size = 7

    @python_app
    def thing():
        return Thing()

    assert thing().size.result() == 7


def test_bash_app_basics(dfk, tmp_path):
    @bash_app
    def echo(msg, stdout=None, stderr=None):
        return f'echo {msg}; echo oops >&2'

    out, err = tmp_path / 'o.txt', tmp_path / 'sub' / 'e.txt'
    f = echo('hello', stdout=str(out), stderr=str(err))
    assert f.result() == 0
    assert out.read_text() == 'hello\n'
    lines = err.read_text().splitlines()
    assert lines[:3] == ['--> executable follows <--', 'echo hello; echo oops >&2', '--> end executable <--']
    assert lines[-1] == 'oops'
    assert f.stdout == str(out)
    # (path, mode) tuples: append
    echo('again', stdout=(str(out), 'a')).result()
    assert out.read_text() == 'hello\nagain\n'
    echo('fresh', stdout=(str(out), 'w')).result()
    assert out.read_text() == 'fresh\n'
    # a File
    fo = File(str(tmp_path / 'file-out.txt'))
    g = echo('to-file', stdout=fo)
    g.result()
    assert isinstance(g.stdout, DataFuture) and g.stdout.result().filepath == fo.filepath
    assert (tmp_path / 'file-out.txt').read_text() == 'to-file\n'


def test_bash_exit_failure(dfk):
    @bash_app
    def fail(code):
        return f'exit {code}'

    with pytest.raises(BashExitFailure) as info:
        fail(3).result()
    assert info.value.exitcode == 3


def test_bash_command_gets_only_the_standard_descriptors(dfk, tmp_path):
    """Descriptors 0-2 (stdin /dev/null, the redirections) and no other, not even one the
    app's body made inheritable; Parsl's close_fds=False would pass that one on."""
    @bash_app
    def list_fds(stdout=None):
        import os
        fd = os.open(os.devnull, os.O_RDONLY)
        os.set_inheritable(fd, True)
        return 'ls /proc/$$/fd; true'  # not the last command: bash forks ls rather than becoming it

    out = tmp_path / 'fds.txt'
    assert list_fds(stdout=str(out)).result() == 0
    assert sorted(out.read_text().split()) == ['0', '1', '2']

def test_a_bash_command_on_the_thread_pool_does_not_read_the_clients_stdin(tmp_path):
    """The command's input is /dev/null wherever it runs: on the client's threads too, a
    `cat` ends at once instead of waiting on the user's terminal (here: a pipe the client
    holds open and never writes)."""
    import subprocess
    import sys
    script = tmp_path / 'client.py'
    script.write_text(
        "import chervil\n"
        "from chervil import bash_app\n"
        "from chervil.config import Config\n"
        "from chervil.executors import ThreadPoolExecutor\n"
        "@bash_app\n"
        "def cat():\n"
        "    return 'cat'\n"
        f"with chervil.load(Config(executors=[ThreadPoolExecutor()], run_dir={str(tmp_path / 'runinfo')!r})):\n"
        "    print('exit', cat().result())\n")
    out, err = tmp_path / 'out', tmp_path / 'err'
    with open(out, 'w') as o, open(err, 'w') as e:
        client = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=o, stderr=e)
    try:
        client.wait(timeout=120)  # its stdin stays open (and empty) all along
    finally:
        client.kill()
        client.stdin.close()
    assert client.returncode == 0, err.read_text()
    assert 'exit 0' in out.read_text()


def test_bash_commands_get_default_signals_and_exit_codes_of_signals(dfk):
    @bash_app
    def piped():
        # Python ignores SIGPIPE; the command must not inherit that: `yes` ends by SIGPIPE
        # (141), not by a write error (1), as in a shell
        return 'yes | head -1 > /dev/null; exit ${PIPESTATUS[0]}'

    @bash_app
    def killed():
        return 'kill -TERM $$'

    with pytest.raises(BashExitFailure) as info:
        piped().result()
    assert info.value.exitcode == 141
    with pytest.raises(BashExitFailure) as info:
        killed().result()
    assert info.value.exitcode == -signal.SIGTERM, "as subprocess reports a signal: its negative number"


def test_bash_no_return_and_bad_format(dfk):
    @bash_app
    def nothing():
        pass

    @bash_app
    def number():
        return 5

    @bash_app
    def bad_index(inputs=()):
        return f'cat {inputs[3]}'

    with pytest.raises(BashAppNoReturn, match='str'):
        nothing().result()
    with pytest.raises(ValueError, match='int'):
        number().result()
    with pytest.raises(AppBadFormatting):
        bad_index(inputs=[]).result()
    assert add(1).result() == 1


def test_bash_walltime_kills_the_command(dfk, tmp_path):
    marker = tmp_path / 'survived'

    @bash_app
    def sleeper(walltime=None):
        return f'sleep 5; touch {marker}'

    start = time.time()
    with pytest.raises(AppTimeout):
        sleeper(walltime=0.3).result()
    assert time.time() - start < 4
    time.sleep(0.2)
    assert not marker.exists()


def test_bash_missing_outputs_and_bad_stream(dfk, tmp_path):
    @bash_app
    def promises(outputs=(), stdout=None):
        return 'true'

    with pytest.raises(MissingOutputs) as info:
        promises(outputs=[File(str(tmp_path / 'never.txt'))]).result()
    assert info.value.outputs[0].filepath.endswith('never.txt')
    with pytest.raises(BadStdStreamFile):
        promises(stdout='/proc/forbidden/x.txt').result()
    # A spec of the wrong shape is typeguard's error naming the argument, as in Parsl.
    with pytest.raises(TypeCheckError, match='stdfspec'):
        promises(stdout=('a', 'b', 'c')).result()


def test_bash_dependencies(dfk, tmp_path):
    @bash_app
    def write(text, outputs=()):
        return f'echo {text} > {outputs[0]}'

    @bash_app
    def cat(inputs=(), stdout=None):
        return f'cat {inputs[0]}'

    w = write('data', outputs=[File(str(tmp_path / 'd.txt'))])
    out = tmp_path / 'cat.txt'
    cat(inputs=[w.outputs[0]], stdout=str(out)).result()
    assert out.read_text() == 'data\n'


def test_auto_logname(dfk):
    @bash_app
    def hello(stdout=chervil.AUTO_LOGNAME, stderr=chervil.AUTO_LOGNAME):
        return 'echo auto'

    f = hello()
    f.result()
    assert f.stdout.startswith(dfk.run_dir) and f.stdout.endswith('.stdout')
    with open(f.stdout) as fh:
        assert fh.read() == 'auto\n'


def test_many_tasks_and_state_counts(dfk):
    futures = [add(i, 1) for i in range(2000)]
    assert sum(f.result() for f in futures) == sum(range(1, 2001))
    counts = dfk.task_state_counts
    assert counts[States.exec_done] == 2000
    assert not dfk.tasks, "finished records are garbage-collected"


def test_deep_dependency_resolver(config_for):
    from chervil.dataflow.dependency_resolvers import DEEP_DEPENDENCY_RESOLVER

    @python_app
    def count(d):
        return sum(d['xs']) + len(d['ys'])

    with chervil.load(config_for(dependency_resolver=DEEP_DEPENDENCY_RESOLVER)):
        assert count({'xs': [add(1), add(2)], 'ys': (add(3),)}).result() == 4
