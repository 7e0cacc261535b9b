"""Python apps (and join apps, which are python apps run in the client)."""
import ctypes
import threading
from functools import wraps

from chervil.app.app import AppBase
from chervil.app.errors import AppTimeout
from chervil.utils import AutoCancelTimer


def timeout(f, seconds: float):
    """Wraps ``f`` so that, past ``seconds``, ``AppTimeout`` is raised inside it.

    The exception is delivered between Python bytecodes, so a call blocked in C code
    (a long ``time.sleep``, a native library) is interrupted only when it returns.
    """

    @wraps(f)
    def wrapper(*args, **kwargs):
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
