"""A task's record (chervil.dataflow.taskrecord): Parsl's keys and values, in a fraction
of the memory, and freed with its future without the cyclic garbage collector."""
import datetime
import gc
import weakref

import pytest

import chervil
from chervil import python_app
from chervil.dataflow.states import States
from chervil.dataflow.taskrecord import TaskRecord

# Every key of Parsl's record that Chervil fills (Parsl's own locks and its
# 'checkpoint' flag are Parsl's internals).
PARSL_KEYS = {'id', 'dfk', 'func', 'func_name', 'args', 'kwargs', 'executor', 'status', 'depends', 'app_fu',
              'exec_fu', 'memoize', 'hashsum', 'ignore_for_cache', 'fail_count', 'fail_cost', 'fail_history',
              'from_memo', 'join', 'joins', 'try_id', 'time_invoked', 'time_returned', 'try_time_launched',
              'try_time_returned', 'resource_specification'}


@python_app
def add(a, b=0):
    return a + b


def test_it_reads_like_parsls_dict(dfk):
    first = add(1)
    f = add(first, b=2)
    assert f.result() == 3
    rec = f.task_record
    assert set(rec) == PARSL_KEYS and len(rec) == len(PARSL_KEYS)
    assert rec['depends'] == [first] and rec['args'] == (1,) and rec['kwargs'] == {'b': 2}
    assert rec['status'] == States.exec_done and rec['app_fu'] is f and rec['dfk'] is dfk
    assert rec['fail_history'] == [] and rec['resource_specification'] == {} and rec.get('hashsum') is None
    for key in ('time_invoked', 'try_time_launched', 'try_time_returned', 'time_returned'):
        assert isinstance(rec[key], datetime.datetime), key
    assert rec['time_invoked'] <= rec['try_time_launched'] <= rec['time_returned'] <= datetime.datetime.now()
    assert dict(rec)['func_name'] == 'add' and 'no_such_key' not in rec
    with pytest.raises(KeyError):
        rec['no_such_key']


def test_it_takes_keys_of_its_own_and_times_as_datetimes():
    rec = TaskRecord(None, len, 'len', (), {}, 'threads', False, False, 0.0)
    rec['mine'] = 1
    assert rec['mine'] == 1 and 'mine' in rec and 'mine' in list(rec)
    assert rec.pop('mine') == 1 and 'mine' not in rec
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    rec['time_returned'] = when
    assert rec['time_returned'] == when
    rec['fail_history'] = ['ValueError()']
    assert rec['fail_history'] == ['ValueError()']
    assert rec['depends'] is not rec['depends'], "an unset list reads as a fresh one, never a shared one"


def test_failed_tries_are_in_the_record(config_for):
    tries = []

    @python_app
    def flaky():
        tries.append(1)
        if len(tries) < 3:
            raise ValueError(f'try {len(tries)}')
        return 'ok'

    with chervil.load(config_for(retries=2)):
        f = flaky()
        assert f.result() == 'ok'
        rec = f.task_record
        assert rec['fail_count'] == 2 and rec['try_id'] == 2 and rec['fail_cost'] == 2
        assert [h.split('(')[0] for h in rec['fail_history']] == ['ValueError', 'ValueError']


def test_a_finished_task_is_freed_when_its_future_is_dropped(dfk):
    """The future and its record refer to each other; once the task is final the record's
    side is weak, so dropping the future frees both at once: a run of a million tasks
    leaves no cycles for the collector's full passes."""
    f = add(2, 3)
    assert f.result() == 5
    assert f.task_record['app_fu'] is f
    gone = weakref.ref(f)
    gc.disable()
    try:
        del f
        assert gone() is None, "freed by reference counting alone"
    finally:
        gc.enable()


def test_a_record_is_a_fraction_of_a_dict_of_the_same_keys():
    import sys
    rec = TaskRecord(None, len, 'len', (), {}, 'threads', False, False, 0.0)
    as_dict = {k: None for k in PARSL_KEYS}
    assert sys.getsizeof(rec) < sys.getsizeof(as_dict) / 2
