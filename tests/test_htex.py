"""The HighThroughputExecutor for real: the interchange in this process, pools started
by LocalProvider blocks, Python worker processes, and every way one of them can die."""
import concurrent.futures as cf
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.errors import ConfigurationError
from chervil.executors import HighThroughputExecutor
from chervil.executors.errors import BadStateException
from chervil.app.errors import AppTimeout
from chervil.executors.high_throughput.errors import ManagerLost, WorkerLost
from chervil.providers import LocalProvider
from chervil.jobs.states import JobState
from chervil.serialize import SerializationError


def htex_config(tmp_path, retries=0, **kw):
    provider = kw.pop('provider', None) or LocalProvider()
    kw.setdefault('max_workers_per_node', 2)
    return Config(executors=[HighThroughputExecutor(label='htex', provider=provider, **kw)],
                  run_dir=str(tmp_path / 'runinfo'), retries=retries, strategy='none')


def wait_until(predicate, timeout, what):
    """Polls a condition that has no event to wait on (another process's exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(') ', 1)[1][0] != 'Z'
    except OSError:
        return False


@python_app
def double(x):
    return 2 * x


@python_app
def fails(x):
    raise KeyError(f"no such thing: {x}")


@python_app
def pids():
    import os
    return os.getpid(), os.getppid()


@python_app
def sleep_then(seconds, value=None):
    import time
    time.sleep(seconds)
    return value


@python_app
def exits_first_time(marker):
    import os
    if not os.path.exists(marker):
        open(marker, 'w').close()
        os._exit(7)
    return 'second try'


@python_app
def segfaults():
    import os
    import signal
    os.kill(os.getpid(), signal.SIGSEGV)


@python_app
def returns_unpicklable():
    import threading
    return threading.Lock()


@python_app
def takes(x):
    return 'ran'


@python_app
def returns_unreadable(ballast=0):
    class Unreadable:
        """Pickles in the worker; unpickling calls int('not a number')."""
        def __reduce__(self):
            return (int, ('not a number',))
    return [b'x' * ballast, Unreadable()]


@python_app
def returns_wrapped_exception():
    from chervil.app.errors import RemoteExceptionWrapper
    try:
        raise ValueError('wrapped by the app itself')
    except ValueError as e:
        return RemoteExceptionWrapper(type(e), e, e.__traceback__)


def test_many_tasks_all_correct_and_exceptions_keep_their_type(tmp_path):
    with chervil.load(htex_config(tmp_path)):
        futures = [double(i) for i in range(3000)]
        assert [f.result(timeout=60) for f in futures] == [2 * i for i in range(3000)]
        with pytest.raises(KeyError, match='no such thing: 5'):
            fails(5).result(timeout=30)
        # a chain of dependencies through the executor
        f = double(1)
        for _ in range(50):
            f = double(f)
        assert f.result(timeout=30) == 2 ** 51


def test_submissions_are_batched_yet_none_waits_long(tmp_path):
    """Tasks reach the interchange in batches (submit_soon): flushed when someone
    blocks on a result, after each batch of results, or within a millisecond when no
    one waits at all — and concurrent.futures.wait, which the client cannot hook,
    still sees every task finish."""
    with chervil.load(htex_config(tmp_path)):
        assert double(1).result(timeout=30) == 2  # pools up
        unwatched = double(2)
        wait_until(unwatched.done, 30, "a task no one blocks on to finish")
        futures = [double(i) for i in range(100)]
        done, pending = cf.wait(futures, timeout=30)
        assert not pending and sorted(f.result() for f in done) == [2 * i for i in range(100)]



def sleeps_taken() -> int:
    """Times this process's threads have gone to sleep so far (voluntary context switches)."""
    total = 0
    for status in os.listdir('/proc/self/task'):
        try:
            with open(f'/proc/self/task/{status}/status') as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith('voluntary_ctxt_switches'))
        except OSError:  # a thread that ended meanwhile
            pass
    return total


def test_a_client_waiting_on_a_long_task_sleeps(tmp_path):
    """With a task out and nothing submitted, the client's threads sleep: the inbox's
    1 ms deadline stops after a few quiet rounds (it used to tick a thousand times a
    second for as long as any task was out). A task submitted later, that no one
    blocks on, still goes out at once."""
    with chervil.load(htex_config(tmp_path)):
        assert double(1).result(timeout=30) == 2  # pools up
        long = sleep_then(60)
        time.sleep(0.2)  # the quiet this test is about
        before = sleeps_taken()
        time.sleep(1)
        woke = sleeps_taken() - before
        assert woke < 100, f"the client's threads woke {woke} times in a second with one task out"
        unwatched = double(3)
        wait_until(unwatched.done, 30, "a task submitted while the flusher was parked")
        assert not long.done()

def test_worker_that_dies_is_replaced_and_retries_run_the_task_again(tmp_path):
    with chervil.load(htex_config(tmp_path, retries=1)):
        assert exits_first_time(str(tmp_path / 'marker')).result(timeout=60) == 'second try'
    with chervil.load(htex_config(tmp_path, retries=0)):
        with pytest.raises(WorkerLost, match='SIGSEGV'):
            segfaults().result(timeout=60)
        # the pool replaced the dead worker and goes on
        assert [double(i).result(timeout=60) for i in range(4)] == [0, 2, 4, 6]


def test_with_prefetch_tasks_piped_behind_a_dying_worker_are_not_lost(tmp_path):
    """With prefetch_capacity, a busy worker gets its next task in its pipe before it
    finishes the current one; when it dies, only the task it was running is lost."""
    with chervil.load(htex_config(tmp_path, max_workers_per_node=1, prefetch_capacity=4)):
        assert double(0).result(timeout=60) == 0  # the pool is up
        for _ in range(3):
            dying = segfaults()
            behind = [double(i) for i in range(3)]
            with pytest.raises(WorkerLost):
                dying.result(timeout=60)
            assert [f.result(timeout=60) for f in behind] == [0, 2, 4]
        # and plenty of short tasks flow through the piped path
        assert sum(f.result(timeout=60) for f in [double(i) for i in range(2000)]) == 2 * sum(range(2000))


def test_killed_pool_fails_its_tasks_with_manager_lost_and_retries_go_elsewhere(tmp_path):
    for retries in (0, 1):
        provider = LocalProvider(init_blocks=2, max_blocks=2)
        with chervil.load(htex_config(tmp_path, provider=provider, max_workers_per_node=1, retries=retries)) as dfk:
            htex = dfk.executors['htex']
            wait_until(lambda: len(htex.connected_managers()) == 2, 30, "two pools to connect")
            marker = tmp_path / f'started-{retries}'
            slow = sleep_then_mark(str(marker), 'survived')
            wait_until(marker.exists, 30, "the task to start")
            wait_until(lambda: marker.read_text(), 30, "the task to write its pool's pid")
            os.kill(int(marker.read_text()), signal.SIGKILL)
            if retries:
                assert slow.result(timeout=60) == 'survived'  # the retry ran on the other pool
            else:
                with pytest.raises(ManagerLost):
                    slow.result(timeout=60)
            assert len(htex.connected_managers()) == 1


@python_app
def sleep_then_mark(marker, value):
    import os
    import time
    if not os.path.exists(marker):
        with open(marker, 'w') as f:
            f.write(str(os.getppid()))
        time.sleep(60)
    return value


def test_silent_pool_is_declared_lost_after_heartbeat_threshold(tmp_path):
    with chervil.load(htex_config(tmp_path, heartbeat_period=1, heartbeat_threshold=3,
                                  max_workers_per_node=1)):
        _, pool_pid = pids().result(timeout=30)
        stuck = sleep_then(0.5, 'never seen')
        os.kill(pool_pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(ManagerLost):
                stuck.result(timeout=30)
            assert time.monotonic() - started < 10
        finally:
            os.kill(pool_pid, signal.SIGKILL)


CLIENT = textwrap.dedent('''
    import os, sys, time
    import chervil
    from chervil import python_app
    from chervil.config import Config
    from chervil.executors import HighThroughputExecutor

    @python_app
    def pids():
        import os
        return os.getpid(), os.getppid()

    @python_app
    def forever():
        import time
        time.sleep(600)

    chervil.load(Config(executors=[HighThroughputExecutor(max_workers_per_node=2, heartbeat_period=1,
                                                          heartbeat_threshold=3)], strategy='none'))
    worker, pool = pids().result()
    busy = forever()
    print(worker, pool, flush=True)
    time.sleep(600)
''')


def test_client_killed_leaves_no_pool_or_worker_behind(tmp_path):
    script = tmp_path / 'client.py'
    script.write_text(CLIENT)
    client = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        worker, pool = map(int, client.stdout.readline().split())
        with open(f'/proc/{pool}/task/{pool}/children') as f:
            workers = [int(p) for p in f.read().split()]
        assert worker in workers and len(workers) == 2
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
        # the pool sees its connection close; heartbeat_threshold is the upper bound
        wait_until(lambda: not any(alive(p) for p in [pool, *workers]), 3 + 2, "the pool and workers to exit")
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()


def test_unpicklable_argument_and_result_are_clear_errors(tmp_path):
    import threading
    with chervil.load(htex_config(tmp_path)):
        with pytest.raises(SerializationError, match="argument 0 of takes"):
            takes(threading.Lock()).result(timeout=30)
        with pytest.raises(Exception, match="result of returns_unpicklable"):
            returns_unpicklable().result(timeout=30)
        assert takes(1).result(timeout=30) == 'ran'


@python_app
def reversed_bytes(data):
    import os
    return data[::-1], os.getpid(), os.getppid()


def rss_mib(pid: int) -> float:
    with open(f'/proc/{pid}/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def test_a_large_call_and_result_arrive_whole_and_no_process_keeps_them(tmp_path):
    """64 MiB each way (above glibc's largest mmap threshold, so a freed buffer leaves the
    process at once): the client (whose interchange thread reads the result), the pool,
    which relays both, and the worker, which unpickles one and pickles the other, are back
    near where they started once the task is done: a link that once carried a large frame
    does not keep its size for the run's life."""
    data = os.urandom(1 << 20) * 64
    with chervil.load(htex_config(tmp_path, max_workers_per_node=1)):
        _, worker, pool = reversed_bytes(b'').result(timeout=60)
        before = {pid: rss_mib(pid) for pid in (worker, pool, os.getpid())}
        back, *_ = reversed_bytes(data).result(timeout=120)
        assert back == data[::-1]
        del back
        for pid, name in ((pool, 'pool'), (worker, 'worker'), (os.getpid(), 'client')):
            wait_until(lambda: rss_mib(pid) < before[pid] + 16, 30,
                       f"the {name}'s memory to fall back from {rss_mib(pid):.0f} MiB (it started at {before[pid]:.0f})")


def test_a_result_the_client_cannot_read_fails_its_try_and_is_retried(tmp_path):
    """A try's success reaches the kernel from the engine only once its value is read:
    a result that does not unpickle in the client is a failed try (retried, then the
    task fails with DeserializationError), and a value that is an exception in disguise
    is raised, as Parsl does."""
    from chervil.serialize import DeserializationError
    with chervil.load(htex_config(tmp_path, retries=1)):
        # (a large value is unpickled where it arrived, a small one from a copy: both ways)
        for ballast in (0, 1 << 20):
            f = returns_unreadable(ballast)
            with pytest.raises(DeserializationError, match="not a number"):
                f.result(timeout=30)
            assert f.task_record['fail_count'] == 2
        with pytest.raises(ValueError, match="wrapped by the app itself"):
            returns_wrapped_exception().result(timeout=30)
        assert double(double(4)).result(timeout=30) == 16


def _connect(htex, via):
    """A stranger's connection to the interchange: on its TCP port, or its local socket."""
    if via == 'tcp':
        return socket.create_connection(('127.0.0.1', htex._ix.port), timeout=10)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect('\0' + htex._ix.local_address[1:])  # '@name' is the abstract socket 'name'
    return s


@pytest.mark.parametrize('via', ['tcp', 'local'])
def test_pool_with_the_wrong_secret_is_turned_away(tmp_path, via):
    with chervil.load(htex_config(tmp_path)) as dfk:
        htex = dfk.executors['htex']
        address = '127.0.0.1' if via == 'tcp' else htex._ix.local_address
        wait_until(lambda: len(htex.connected_managers()) == 1, 30, "the block's own pool to connect")
        env = dict(os.environ, CHERVIL_POOL_TOKEN='00' * 32)
        out = subprocess.run([sys.executable, '-m', 'chervil.pool', f'--addresses={address}', f'--port={htex._ix.port}',
                              '--logdir', str(tmp_path / 'intruder'), '--connect-timeout=5'],
                             env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 1
        assert 'secret' in out.stderr.lower(), out.stderr
        assert len(htex.connected_managers()) == 1
        assert double(4).result(timeout=30) == 8


@pytest.mark.parametrize('via', ['tcp', 'local'])
def test_garbage_on_the_port_closes_only_that_connection(tmp_path, via):
    with chervil.load(htex_config(tmp_path)) as dfk:
        htex = dfk.executors['htex']
        for junk in (b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', struct.pack('>I', 0xFFFFFFF0) + b'x' * 64,
                     os.urandom(4096)):
            with _connect(htex, via) as s:
                s.sendall(junk)
                try:
                    while s.recv(4096):
                        pass  # whatever it says, it must close the connection
                except ConnectionResetError:
                    pass
        # Before it proves the secret a connection may not make the interchange buffer a big
        # frame: announcing 1 MiB (well under max_frame) is refused at once, not after the
        # 10 s the handshake is allowed.
        with _connect(htex, via) as s:
            started = time.monotonic()
            s.sendall(struct.pack('>I', 1 << 20) + b'x' * 1024)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
            assert time.monotonic() - started < 5, "a stranger's big first frame was buffered"
        assert [double(i).result(timeout=30) for i in range(3)] == [0, 2, 4]


def test_local_pools_use_the_local_socket_and_others_fall_back_to_tcp(tmp_path):
    """A block on this machine connects over the interchange's Unix socket (the TCP stack
    costs every frame more); a pool that cannot reach that socket (elsewhere, in another
    network namespace: here, a name nobody listens on) connects over TCP instead."""
    with chervil.load(htex_config(tmp_path)) as dfk:
        htex = dfk.executors['htex']
        assert htex._ix.local_address.startswith('@chervil-pools-'), htex._ix.local_address
        assert [double(i).result(timeout=30) for i in range(10)] == list(range(0, 20, 2))
        log = open(os.path.join(dfk.run_dir, 'chervil.log')).read()
        assert 'pool connected pool=0 peer=local socket' in log, log
        env = dict(os.environ, CHERVIL_POOL_TOKEN=htex._token_hex)
        other = subprocess.Popen([sys.executable, '-m', 'chervil.pool', '--addresses=@chervil-nobody-here,127.0.0.1',
                                  f'--port={htex._ix.port}', '--max-workers-per-node=1', '--connect-timeout=20',
                                  '--logdir', str(tmp_path / 'other')], env=env)
        try:
            wait_until(lambda: len(htex.connected_managers()) == 2, 30, "the second pool to connect over TCP")
            log = open(os.path.join(dfk.run_dir, 'chervil.log')).read()
            assert 'pool connected pool=1 peer=127.0.0.1:' in log, log
        finally:
            other.terminate()
            other.wait(timeout=30)


def test_a_block_that_cannot_start_fails_tasks_with_its_own_error(tmp_path):
    provider = LocalProvider(worker_init='echo "module load python: not found" >&2; exit 3')
    with chervil.load(htex_config(tmp_path, provider=provider)):
        with pytest.raises(BadStateException, match='module load python: not found'):
            double(1).result(timeout=30)


def test_a_block_ended_early_with_code_0_fails_tasks_rather_than_being_replaced(tmp_path):
    """An `exit 0` in worker_init ends the block before its pool runs: MISSING, as Parsl
    says of it, so the error handler stops the executor with the block's output, where a
    COMPLETED block would be replaced for ever while the task waited."""
    provider = LocalProvider(worker_init="echo 'set up, then: exit 0'; exit 0", init_blocks=0, min_blocks=0,
                             max_blocks=2)
    provider.status_polling_interval = 0.2
    config = Config(executors=[HighThroughputExecutor(label='htex', provider=provider, max_workers_per_node=1)],
                    run_dir=str(tmp_path / 'runinfo'), strategy='htex_auto_scale', strategy_period=0.1)
    with chervil.load(config) as dfk:
        with pytest.raises(BadStateException, match='EXIT CODE: 0') as e:
            double(1).result(timeout=60)
        assert 'set up, then: exit 0' in str(e.value), "the block's own output is quoted"
        states = [s.state for s in dfk.executors['htex'].status().values()]
        assert states == [JobState.MISSING], "one block, not replaced"


@python_app
def exits(code):
    import sys
    sys.exit(code)


def test_an_app_that_calls_sys_exit_fails_and_the_run_goes_on(tmp_path):
    """The worker sends the app's SystemExit back as its outcome; re-raised on the
    client's results thread it ended that thread, and every later result waited for
    ever (Parsl's test_htex/test_worker_failure hung so)."""
    with chervil.load(htex_config(tmp_path, max_workers_per_node=1)):
        for _ in range(2):
            with pytest.raises(SystemExit):
                exits(2).result(timeout=60)
        assert double(21).result(timeout=60) == 42


@python_app
def finished_at(parsl_resource_specification=None):
    import time
    return time.monotonic_ns()


def test_a_priority_orders_waiting_tasks_lowest_first_and_others_last(tmp_path):
    """Parsl's ``priority`` resource specification: tasks wait in the interchange (no
    block yet), then one worker runs them one at a time, lowest priority first, equal
    ones in the order they came, tasks without one last."""
    from chervil.executors.errors import InvalidResourceSpecification
    provider = LocalProvider(init_blocks=0, min_blocks=0, max_blocks=1)
    with chervil.load(htex_config(tmp_path, provider=provider, max_workers_per_node=1)) as dfk:
        ex = dfk.executors['htex']
        asked = [None, 5, -1, 5, 2.5, None, 10]
        futures = [finished_at(parsl_resource_specification={} if p is None else {'priority': p}) for p in asked]
        wait_until(lambda: ex._ix.load()[0] == len(asked), 30, "the tasks to wait in the interchange")
        ex.scale_out_facade(1)
        ends = [f.result(timeout=60) for f in futures]
        order = sorted(range(len(asked)), key=lambda i: ends[i])
        assert order == [2, 4, 1, 3, 6, 0, 5], [asked[i] for i in order]
        with pytest.raises(InvalidResourceSpecification, match='only accepts these types of resources: priority'):
            ex.validate_resource_spec({'num_nodes': 2})
        with pytest.raises(InvalidResourceSpecification, match='number'):
            finished_at(parsl_resource_specification={'priority': 'high'}).result(timeout=60)
        assert ex.validate_resource_spec({'priority': 1}) is None


def test_worker_logdir_root_is_expanded_on_the_node_and_holds_a_folder_per_executor(tmp_path):
    """Parsl's rule: pools log under ``worker_logdir_root/<label>``, and the launch
    command leaves ``$VARIABLE`` to the node's shell (a path with spaces stays whole)."""
    root = tmp_path / 'node logs'
    provider = LocalProvider(worker_init=f"export NODE_SCRATCH='{root}'")
    with chervil.load(htex_config(tmp_path, provider=provider, worker_logdir_root='$NODE_SCRATCH')) as dfk:
        ex = dfk.executors['htex']
        assert ex.worker_logdir == '$NODE_SCRATCH/htex'
        assert double(2).result(timeout=60) == 4
    assert list((root / 'htex' / 'block-0').glob('*/pool.log')), sorted(map(str, root.rglob('*')))


def test_interchange_manager_and_worker_logs_are_in_the_runs_format(tmp_path):
    """Where Parsl users look, in FileLogging's format: ``<run_dir>/<label>/interchange.log``
    (where the interchange listens, each pool that registers and leaves), and in the
    pool's folder ``manager.log`` and ``worker_<rank>.log``. The format travels to the
    pool in its launch command: quotes, spaces and a ``$`` arrive as written."""
    from chervil.logconfigs.file import FileLogging
    token = 'TOKEN "q" $HOME  '
    config = htex_config(tmp_path, max_workers_per_node=1)
    config.initialize_logging = FileLogging(format_string=token + '%(message)s')
    with chervil.load(config) as dfk:
        assert double(1).result(timeout=60) == 2
        log = os.path.join(dfk.run_dir, 'htex', 'interchange.log')
        pool_dir = next((tmp_path / 'runinfo' / '000' / 'htex' / 'block-0').iterdir())
    lines = open(log).read().splitlines()
    assert all(line.startswith(token) for line in lines), lines
    text = '\n'.join(lines)
    assert 'interchange listening on' in text and 'Registered manager' in text and '(block 0)' in text, text
    assert 'Interchange stopped' in text
    manager = (pool_dir / 'manager.log').read_text().splitlines()
    assert manager[0].startswith(token + 'Manager started on'), manager
    worker = (pool_dir / 'worker_0.log').read_text().splitlines()
    assert worker[0].startswith(token + 'Worker 0 of 1 started'), worker
    assert (pool_dir / 'pool.log').exists()


def test_noop_logging_leaves_no_manager_log(tmp_path):
    from chervil.logconfigs.noop import NoopLogging
    config = htex_config(tmp_path, max_workers_per_node=1)
    config.initialize_logging = NoopLogging()
    with chervil.load(config):
        assert double(1).result(timeout=60) == 2
        pool_dir = next((tmp_path / 'runinfo' / '000' / 'htex' / 'block-0').iterdir())
    assert not (pool_dir / 'manager.log').exists()
    assert (pool_dir / 'worker_0.log').read_text() == ''


def test_configuration_mistakes_are_named():
    with pytest.raises(ConfigurationError, match='heartbeat_threshold'):
        HighThroughputExecutor(heartbeat_period=30, heartbeat_threshold=10)
    with pytest.raises(ConfigurationError, match='cpu_affinity'):
        HighThroughputExecutor(cpu_affinity='sideways')
    with pytest.raises(ConfigurationError, match='cores_per_worker'):
        HighThroughputExecutor(cores_per_worker=0)


    with pytest.raises(ConfigurationError, match='frobnicate'):
        HighThroughputExecutor(launch_cmd='chervil-pool --frobnicate={frobnicate} --block={{block_id}}')


def test_monte_carlo_example_runs_on_htex_by_default(tmp_path):
    example = os.path.join(os.path.dirname(__file__), '..', 'examples', 'monte_carlo.py')
    out = subprocess.run([sys.executable, example, '20', '2000'], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert 'estimate 0.36' in out.stdout
    assert list((tmp_path / 'runinfo' / '000' / 'local_htex').glob('block-0/*/pool.log'))


class CountsUnpickling:
    """Appends a line to a file each time it is unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (_unpickled, (self.path,))


def _unpickled(path):
    with open(path, 'a') as f:
        f.write('x\n')
    return CountsUnpickling(path)


def test_a_function_is_sent_to_each_worker_once_not_with_every_task(tmp_path):
    counter = tmp_path / 'unpickled'
    marker = CountsUnpickling(str(counter))
    ballast = os.urandom(1 << 20)  # a closure with a megabyte in it: costly to send per task

    def closure(x):
        return (x, marker.path, len(ballast))

    app = python_app(closure, executors=['htex'])
    with chervil.load(htex_config(tmp_path)):
        results = [f.result(timeout=60) for f in [app(i) for i in range(200)]]
    assert results == [(i, str(counter), 1 << 20) for i in range(200)]
    assert 1 <= len(counter.read_text().split()) <= 2  # once per worker that ran any


def _need(condition: bool, why: str) -> None:
    """Skips here when the machine lacks what the test needs, but fails in CI, where it must run."""
    if not condition:
        if os.environ.get('CI'):
            pytest.fail(f"cannot run in CI: {why}")
        pytest.skip(why)


@pytest.fixture
def netns():
    """A network namespace joined to this one by a veth pair: a real non-loopback link."""
    import shutil
    _need(os.geteuid() == 0 and shutil.which('ip') is not None, "needs root and iproute2 for ip netns")
    n = os.getpid() % 250 + 1
    ns, host_if, ns_if = f'chervil{n}', f'chvh{n}', f'chvn{n}'
    host_ip, ns_ip = f'10.77.{n}.1', f'10.77.{n}.2'

    def ip(*args, check=True):
        return subprocess.run(['ip', *args], check=check, capture_output=True, text=True)

    ip('link', 'del', host_if, check=False)
    ip('netns', 'del', ns, check=False)
    try:
        ip('netns', 'add', ns)
        ip('link', 'add', host_if, 'type', 'veth', 'peer', 'name', ns_if)
        ip('link', 'set', ns_if, 'netns', ns)
        ip('addr', 'add', f'{host_ip}/24', 'dev', host_if)
        ip('link', 'set', host_if, 'up')
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', f'{ns_ip}/24', 'dev', ns_if)
        ip('netns', 'exec', ns, 'ip', 'link', 'set', ns_if, 'up')
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up')
    except subprocess.CalledProcessError as e:
        _need(False, f"could not make a network namespace: {e.stderr.strip()}")
    yield ns, host_ip, ns_ip
    ip('link', 'del', host_if, check=False)
    ip('netns', 'del', ns, check=False)


def test_pool_in_another_network_namespace_talks_tls(tmp_path, netns):
    from chervil.executors.high_throughput.executor import DEFAULT_LAUNCH_CMD
    ns, host_ip, ns_ip = netns

    def where(x):  # defined here, so it travels by value
        import socket
        return x, socket.gethostname()

    htex = HighThroughputExecutor(label='htex', address=host_ip, max_workers_per_node=1,
                                  launch_cmd=f'ip netns exec {ns} ' + DEFAULT_LAUNCH_CMD)
    app = python_app(where, executors=['htex'])
    with chervil.load(Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='none')) as dfk:
        assert htex._ix.cert_sha256, "a non-loopback interchange must use TLS"
        assert [app(i).result(timeout=60)[0] for i in range(20)] == list(range(20))
        log = open(os.path.join(dfk.run_dir, 'chervil.log')).read()
        assert f'peer={ns_ip}:' in log, "the pool connected over the veth link"
        # a pool given another certificate's fingerprint refuses to talk to this interchange
        env = dict(os.environ, CHERVIL_POOL_TOKEN=htex._token_hex, CHERVIL_POOL_CERT_SHA256='ab' * 32)
        out = subprocess.run(['ip', 'netns', 'exec', ns, sys.executable, '-m', 'chervil.pool',
                              f'--addresses={host_ip}', f'--port={htex._ix.port}', '--connect-timeout=5',
                              '--logdir', str(tmp_path / 'impostor')],
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and 'fingerprint mismatch' in out.stderr, out.stderr
        assert len(htex.connected_managers()) == 1


def test_pool_drains_after_drain_period_and_leaves(tmp_path):
    # Default heartbeats: the pool's periodic checks are 7.5 s apart, yet its drain
    # period must end on time, while a 6 s task (started at once) still runs.
    with chervil.load(htex_config(tmp_path, drain_period=2)) as dfk:
        htex = dfk.executors['htex']
        assert sleep_then(0.2, 'done before the drain').result(timeout=30) == 'done before the drain'
        long = sleep_then(6, 'done after the drain')
        wait_until(lambda: any(m['draining'] for m in htex.connected_managers()), 20, "the pool to drain")
        assert not long.done(), "the drain period ended late: the pool drained only after its task"
        assert long.result(timeout=30) == 'done after the drain'
        wait_until(lambda: not htex.connected_managers(), 20, "the pool to drain and disconnect")
        job = htex.blocks_to_job_id['0']
        wait_until(lambda: htex.provider.status([job])[0].terminal, 10, "the block to end")


@python_app
def sleeps_past_walltime(walltime=None):
    import time
    time.sleep(30)
    return 'woke'


def test_python_walltime_interrupts_a_blocking_call_on_the_worker(tmp_path):
    with chervil.load(htex_config(tmp_path, max_workers_per_node=1)):
        started = time.monotonic()
        with pytest.raises(AppTimeout, match='walltime of 0.5 s'):
            sleeps_past_walltime(walltime=0.5).result(timeout=20)
        assert time.monotonic() - started < 10, "time.sleep was interrupted, not waited out"
        assert double(4).result(timeout=20) == 8, "the same worker goes on with the next task"


def test_a_killed_pool_leaks_the_secret_nowhere(tmp_path):
    """SIGKILL the only pool: bash reports the killed command in the job's stderr, the block
    fails, later tasks get the block's error. The run's secret must be in none of it: no
    file under the run directory but the owner-only block script, no exception text."""
    with chervil.load(htex_config(tmp_path, max_workers_per_node=1)) as dfk:
        htex = dfk.executors['htex']
        token = htex._token_hex
        _, pool_pid = pids().result(timeout=30)
        os.kill(pool_pid, signal.SIGKILL)
        errors = []
        deadline = time.monotonic() + 60
        while not any(isinstance(e, BadStateException) for e in errors) and time.monotonic() < deadline:
            try:
                double(1).result(timeout=60)
            except Exception as e:  # ManagerLost first, then the failed block's BadStateException
                errors.append(e)
        assert any(isinstance(e, BadStateException) for e in errors), errors
        run_dir = dfk.run_dir
    assert os.stat(run_dir).st_mode & 0o777 == 0o700
    err_files = []
    for root, _, files in os.walk(run_dir):
        for name in files:
            path = os.path.join(root, name)
            with open(path, 'rb') as f:
                text = f.read()
            if path.endswith('.err'):
                err_files.append(text)
            if token.encode() in text:
                assert path.endswith('.sh') and os.stat(path).st_mode & 0o077 == 0, f"the secret is in {path}"
    assert any(b'Killed' in t for t in err_files), "bash reported the kill (the case this test is about)"
    for e in errors:
        assert token not in str(e) and token not in repr(e), e
    assert any('block_error_handler=False' in str(e) for e in errors), "the error says which setting keeps a run going"
