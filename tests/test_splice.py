"""Dependent tasks that the engine launches itself (chervil-py's ``splice`` module).

A task whose futures are all tasks of its own HighThroughputExecutor is pickled at
submission with placeholders; the engine splices its dependencies' results in and sends
it the moment the last one returns, before the client's Python has seen that result.
These tests hold the first dependency in a FIFO until everything is submitted, so the
dependants are spliced (not launched the usual way because their dependency was done).
"""
import os
import pickle
import struct
import threading

import pytest

import chervil
from chervil import python_app
from chervil.dataflow.errors import DependencyError
from chervil.dataflow.futures import AppFuture
from chervil.serialize import SPLICED, DeserializationError, Slot, load_spliced

from test_htex import htex_config


@python_app
def gated(fifo, value):
    """Returns ``value`` once the test writes to ``fifo``; raises if it writes 'fail'."""
    with open(fifo) as f:
        if f.read() == 'fail':
            raise ValueError('the gate said fail')
    return value


@python_app
def add(a, b=0):
    return a + b


@python_app
def pick(a, b=None, inputs=()):
    return a, b, list(inputs)


@python_app
def total(inputs=()):
    return sum(inputs)


@python_app
def same(a, b):
    return a is b


@python_app
def fails_once(marker, x):
    if not os.path.exists(marker):
        open(marker, 'w').close()
        raise RuntimeError('first try')
    return x + 1


@python_app
def kills_its_worker_once(marker, x):
    import os
    import signal
    if not os.path.exists(marker):
        open(marker, 'w').close()
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 2


@python_app
def readable_only_on_workers(_after=None):
    """Pickles on the worker; unpickles only where PARSL_WORKER_RANK is set."""
    def on_a_worker(text):
        import os
        if 'PARSL_WORKER_RANK' not in os.environ:
            raise ValueError('this value is only readable on a worker')
        return int(text)

    class WorkerInt:
        def __reduce__(self):
            return (on_a_worker, ('21',))
    return WorkerInt()


@python_app
def len_of(x):
    return len(x)


@python_app
def double(x):
    return 2 * x


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / 'gate'
    os.mkfifo(path)
    return str(path)


def release(fifo, word='go'):
    """Writes ``word`` to the gated task, failing (not hanging) if it never opens the FIFO."""
    def write():
        with open(fifo, 'w') as f:
            f.write(word)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    writer.join(120)
    if writer.is_alive():
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # lets the writer go
        pytest.fail("the gated task never opened its FIFO: did its pool start?")


def held(dfk):
    """(templates, results) the engine holds for spliced launches."""
    return dfk.executors['htex']._ix.splices_held()


def test_dependants_get_their_values_from_the_engine(tmp_path, fifo):
    with chervil.load(htex_config(tmp_path)) as dfk:
        g = gated(fifo, [5])
        first = add(1)  # done or not by the time it is passed on: a value either way
        shape = pick(g, b=g, inputs=[g, first])  # g three ways: positional, keyword, in inputs
        twice = same(g, g)
        link = add(add(len_of(g)), b=0)
        for _ in range(20):
            link = add(link, b=1)
        assert held(dfk)[0] == 3 + 22, "every task waiting on g (or on one that does) is kept as a template"
        release(fifo)
        assert shape.result(timeout=60) == ([5], [5], [[5], 1])
        assert twice.result(timeout=60) is True, "one result passed twice arrives as one object, as in Parsl"
        assert link.result(timeout=60) == 21
        # launched from its template: the record still holds the future it waited on
        assert isinstance(link.task_record['args'][0], AppFuture)
        assert held(dfk) == (0, 0), "templates and results go when their tasks finish"


def test_a_spliced_task_is_retried_with_the_same_values(tmp_path, fifo):
    with chervil.load(htex_config(tmp_path, retries=1)) as dfk:
        g = gated(fifo, 41)
        f = fails_once(str(tmp_path / 'marker'), g)
        assert held(dfk)[0] == 1
        release(fifo)
        assert f.result(timeout=60) == 42
        assert f.task_record['fail_count'] == 1
        assert held(dfk) == (0, 0)


def test_a_spliced_task_whose_worker_dies_runs_again_from_its_template(tmp_path, fifo):
    with chervil.load(htex_config(tmp_path, retries=1)) as dfk:
        g = gated(fifo, 21)
        f = kills_its_worker_once(str(tmp_path / 'marker'), g)
        after = add(f, b=0)
        assert held(dfk)[0] == 2
        release(fifo)
        assert after.result(timeout=60) == 42
        assert f.task_record['fail_count'] == 1 and 'WorkerLost' in f.task_record['fail_history'][0]
        assert held(dfk) == (0, 0)


def test_a_failed_dependency_fails_spliced_dependants(tmp_path, fifo):
    with chervil.load(htex_config(tmp_path)) as dfk:
        g = gated(fifo, 1)
        d = add(add(g))
        assert held(dfk)[0] == 2
        release(fifo, 'fail')
        with pytest.raises(DependencyError):
            d.result(timeout=60)
        assert held(dfk) == (0, 0)


def test_a_result_only_workers_can_read_still_feeds_its_dependants(tmp_path, fifo):
    """A result a template waits on counts as a success when it arrives: its dependants
    read it where they run, and only its own future says the client cannot."""
    with chervil.load(htex_config(tmp_path)):
        g = gated(fifo, None)
        value = readable_only_on_workers(g)  # waits on g, so it is spliced too
        d = double(value)
        release(fifo)
        assert d.result(timeout=60) == 42
        with pytest.raises(DeserializationError, match="only readable on a worker"):
            value.result(timeout=60)


def test_a_task_waiting_on_many_results_launches_the_usual_way(tmp_path, fifo):
    """Each result a template waits on costs the engine a copy and an early report, for
    one trip saved per task: past eight, the task is launched by the front as before."""
    with chervil.load(htex_config(tmp_path)) as dfk:
        g = gated(fifo, 1)
        parts = [add(g, b=i) for i in range(9)]
        whole = total(inputs=parts)
        assert held(dfk)[0] == 9, "the nine parts are templates; the task over all nine is not"
        release(fifo)
        assert whole.result(timeout=60) == 9 + sum(range(9))
        assert whole.task_record['kwargs']['inputs'][0] == 1, "unwrapped by the front"


def test_a_big_call_is_not_kept_for_the_engine(tmp_path, fifo):
    from chervil.executors.high_throughput.executor import SPLICE_MAX_CALL
    with chervil.load(htex_config(tmp_path)) as dfk:
        g = gated(fifo, b'')
        f = add(g, b=b'x' * (SPLICE_MAX_CALL + 1))
        assert held(dfk)[0] == 0, "not kept twice, beside the arguments the record holds"
        release(fifo)
        assert len(f.result(timeout=60)) == SPLICE_MAX_CALL + 1


def test_load_spliced_puts_each_result_where_its_slot_was():
    call = pickle.dumps(((Slot(1), 'x'), {'k': Slot(0), 'again': Slot(1)}))
    parts = [pickle.dumps('zero'), pickle.dumps([1])]
    data = bytes([SPLICED]) + struct.pack('>I', 2) + b''.join(struct.pack('>I', len(p)) + p for p in parts) + call
    args, kwargs = load_spliced(data)
    assert args == ([1], 'x') and kwargs == {'k': 'zero', 'again': [1]}
    assert args[0] is kwargs['again']


def test_a_launch_that_comes_before_its_dependencys_future_waits_for_it(tmp_path):
    """The kernel can learn that a dependency succeeded (from the results hook) a batch
    before the results thread sets that dependency's future; a launch it sends meanwhile
    must wait for the future, not block the thread that will set it (a diamond under a
    busy machine hung so: 2 runs in 3 of 400 diamonds with both cores busy, before)."""
    import concurrent.futures as cf
    import types

    from chervil.dataflow.dflow import _LAUNCH
    with chervil.load(htex_config(tmp_path)) as dfk:
        acted = []
        dfk._act = acted.append  # what the deferred launch sends, kept instead of carried out
        dependency = cf.Future()
        record = types.SimpleNamespace(depends=[dependency])
        assert dfk._dependencies_unset(record, 7, 0), "its dependency is unset: the launch waits"
        assert acted == []
        dependency.set_result(1)
        assert acted == [[(_LAUNCH, 7, 0, None)]], "the launch comes again once it is set"
        assert not dfk._dependencies_unset(record, 7, 0), "all set: the launch goes on"
        del dfk._act
