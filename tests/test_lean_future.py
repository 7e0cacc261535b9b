"""The futures every task holds two of (chervil.dataflow.lean_future): a Future in every
way concurrent.futures and users rely on, at a fraction of the memory."""
import concurrent.futures as cf
import threading
import tracemalloc

import pytest

from chervil.dataflow.lean_future import LeanCondition, LeanFuture


def _later(fn, delay=0.02):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def test_result_waits_across_threads_and_a_timeout_is_a_timeout():
    f = LeanFuture()
    with pytest.raises(cf.TimeoutError):
        f.result(timeout=0.01)
    _later(lambda: f.set_result(42))
    assert f.result(timeout=10) == 42
    g = LeanFuture()
    _later(lambda: g.set_exception(ValueError('boom')))
    with pytest.raises(ValueError, match='boom'):
        g.result(timeout=10)
    assert isinstance(g.exception(), ValueError)


def test_wait_and_as_completed_see_lean_futures():
    fs = [LeanFuture() for _ in range(4)]
    _later(lambda: fs[2].set_exception(RuntimeError('x')))
    done, pending = cf.wait(fs, timeout=10, return_when=cf.FIRST_EXCEPTION)
    assert done == {fs[2]} and len(pending) == 3
    for i, f in enumerate(fs):
        if i != 2:
            _later(lambda f=f, i=i: f.set_result(i), delay=0.01 * i)
    assert sorted(f.result() if f is not fs[2] else -1 for f in cf.as_completed(fs, timeout=10)) == [-1, 0, 1, 3]


def test_callbacks_run_once_whether_added_before_or_after():
    f = LeanFuture()
    seen = []
    f.add_done_callback(lambda x: seen.append(('before', x.result())))
    f.set_result(1)
    f.add_done_callback(lambda x: seen.append(('after', x.result())))
    assert seen == [('before', 1), ('after', 1)]


def test_the_condition_is_reentrant_and_wait_gives_up_every_hold():
    c = LeanCondition()
    woke = []

    def waiter():
        with c:
            with c:  # held twice: wait must release both, or the notifier deadlocks
                woke.append(c.wait(timeout=10))

    t = threading.Thread(target=waiter)
    t.start()
    while True:
        with c:
            if c._waiters:
                c.notify_all()
                break
    t.join(timeout=10)
    assert woke == [True]
    with pytest.raises(RuntimeError):
        c.notify_all()  # not held
    with c:
        assert c.wait(timeout=0) is False
        assert not c._waiters, "a waiter that timed out is forgotten"


def _bytes_per(make, n=2000):
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    keep = [make() for _ in range(n)]
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    del keep
    return sum(s.size_diff for s in after.compare_to(before, 'filename')) / n


def test_a_lean_future_is_far_smaller_than_a_standard_one():
    lean, standard = _bytes_per(LeanFuture), _bytes_per(cf.Future)
    assert lean < standard / 2, (lean, standard)


def test_a_waiter_or_callback_arriving_as_the_future_finishes_is_never_missed():
    # Finishing without a lock is safe only if a waiter (or callback, or wait()) that
    # arrives at the same moment either comes wholly before it (and the finish takes
    # the lock) or wholly after (and sees it finished). Race them many times.
    n = 3000
    futures = [LeanFuture() for _ in range(n)]
    called = []
    go = threading.Barrier(3)

    def setter():
        go.wait()
        for i, f in enumerate(futures):
            (f.set_result if i % 2 else lambda v, f=f: f.set_exception(ValueError(v)))(i)

    def callbacks():
        go.wait()
        for f in futures[::3]:
            f.add_done_callback(lambda f: called.append(f))

    threads = [threading.Thread(target=setter), threading.Thread(target=callbacks)]
    for t in threads:
        t.start()
    go.wait()
    for i, f in enumerate(futures):  # the main thread waits on each as it is being finished
        if i % 2:
            assert f.result(timeout=30) == i
        else:
            assert isinstance(f.exception(timeout=30), ValueError)
    for t in threads:
        t.join(timeout=30)
    assert len(called) == len(futures[::3]), "every callback ran once"
    done, _ = cf.wait(futures, timeout=30)
    assert len(done) == n
