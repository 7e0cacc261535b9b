"""Python apps (and join apps, which are python apps run in the client)."""
import ctypes
import signal
import threading
from functools import wraps

from chervil.app.app import AppBase
from chervil.app.errors import AppTimeout
from chervil.utils import AutoCancelTimer


def timeout(f, seconds: float):
    """Wraps ``f`` so that, past ``seconds``, ``AppTimeout`` is raised inside it.

    In a process's main thread (an HTEX worker) a real-time timer's SIGALRM raises
    it, which also interrupts blocking calls (``time.sleep``, a socket read). In any
    other thread (the thread pool) it is delivered between Python bytecodes, so a call
    blocked in C code is interrupted only when it returns, as in Parsl.
    """

    @wraps(f)
    def wrapper(*args, **kwargs):
        if threading.current_thread() is threading.main_thread() and hasattr(signal, 'setitimer'):
            def alarm(signum, frame):
                raise AppTimeout(f"task exceeded its walltime of {seconds} s")
            previous = signal.signal(signal.SIGALRM, alarm)
            signal.setitimer(signal.ITIMER_REAL, seconds)
            try:
                return f(*args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
        thread_id = threading.current_thread().ident

        def interrupt():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(AppTimeout))

        with AutoCancelTimer(seconds, interrupt):
            return f(*args, **kwargs)

    return wrapper


class PythonApp(AppBase):
    """A Python function run as a task."""

    def __init__(self, func, data_flow_kernel=None, cache=False, executors='all', ignore_for_cache=None,
                 join=False):
        super().__init__(func, data_flow_kernel=data_flow_kernel, executors=executors, cache=cache,
                         ignore_for_cache=ignore_for_cache)
        self.join = join

    def __call__(self, *args, **kwargs):
        invocation_kwargs = dict(self.kwargs)
        invocation_kwargs.update(kwargs)
        walltime = invocation_kwargs.get('walltime')
        func = timeout(self.func, walltime) if walltime is not None else self.func
        return self._dfk().submit(func, app_args=args, executors=self.executors, cache=self.cache,
                                  ignore_for_cache=self.ignore_for_cache, app_kwargs=invocation_kwargs,
                                  join=self.join)
