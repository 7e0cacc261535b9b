"""``concurrent.futures`` over Chervil (``parsl.concurrent``).

``ParslPoolExecutor`` is an ``Executor`` like ``ProcessPoolExecutor``, whose calls run as
Chervil tasks — on whatever the configuration gives (threads, HTEX pools on a cluster).
Its futures are Chervil's: pass one to another call (or to an app) and the second waits
for the first, as with apps.

As in Parsl, a task cannot be cancelled: ``map`` stops nothing when a call fails or the
timeout passes, and ``shutdown(cancel_futures=True)`` warns and waits.
"""
import time
import warnings
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, TypeVar, Union

from chervil.app.python import PythonApp

T = TypeVar('T')


class ParslPoolExecutor(Executor, AbstractContextManager):
    """Runs calls as tasks of a DataFlowKernel: one it starts from ``config`` (and shuts
    down with the executor), or an already loaded ``dfk`` (left running). ``executors``
    names the executors the calls may use (``'all'`` by default)."""

    def __init__(self, config=None, dfk=None, executors: Union[str, List[str]] = 'all') -> None:
        if config is not None and dfk is not None:
            raise ValueError("give ParslPoolExecutor a config (it loads and owns a DataFlowKernel) "
                             "or a dfk (already loaded, left running), not both")
        if config is None and dfk is None:
            raise ValueError("ParslPoolExecutor needs a config (ParslPoolExecutor(config=Config(...))) "
                             "or a loaded dfk (ParslPoolExecutor(dfk=parsl.dfk()))")
        self._config = config
        self._apps: Dict[Callable, PythonApp] = {}
        self.executors = executors
        if config is not None:
            from chervil.dataflow.dflow import DataFlowKernelLoader
            dfk = DataFlowKernelLoader.load(config)  # as parsl.load: the run's DataFlowKernel
        self._dfk = dfk

    @property
    def app_count(self) -> int:
        """How many functions have been made apps (one app per function)."""
        return len(self._apps)

    def get_app(self, fn: Callable) -> PythonApp:
        """The app that runs ``fn`` (made once, on first use)."""
        app = self._apps.get(fn)
        if app is None:
            app = self._apps[fn] = PythonApp(fn, data_flow_kernel=self._dfk, executors=self.executors)
        return app

    def submit(self, fn, /, *args, **kwargs):
        """Runs ``fn(*args, **kwargs)`` as a task; returns its future."""
        if self._dfk is None:
            raise RuntimeError("this ParslPoolExecutor has been shut down")
        return self.get_app(fn)(*args, **kwargs)

    def map(self, fn: Callable[..., T], *iterables: Iterable, timeout: Optional[float] = None,
            chunksize: int = 1, buffersize: Optional[int] = None) -> Iterator[T]:
        """``map(fn, *iterables)``, the calls all submitted at once and run in any order;
        the results come in order. ``chunksize`` and ``buffersize`` are accepted and
        ignored (each call is a task). Raises ``TimeoutError`` if the results are not all
        in within ``timeout`` seconds of this call, and a call's own exception when its
        result is reached."""
        deadline = None if timeout is None else time.monotonic() + timeout
        app = self.get_app(fn)
        futures = [app(*args) for args in zip(*iterables)]

        def results() -> Iterator[T]:
            for future in futures:
                yield future.result(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return results()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Waits for the tasks submitted (if ``wait``), then cleans up the DataFlowKernel
        if this executor loaded it. Later calls do nothing."""
        if self._dfk is None:
            return
        if cancel_futures:
            warnings.warn("tasks cannot be cancelled: shutdown(cancel_futures=True) lets them run")
        if wait:
            self._dfk.wait_for_current_tasks()
        if self._config is not None:
            self._dfk.cleanup()
        self._dfk = None

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        if self._dfk is not None and self._config is not None:
            self.shutdown(wait=True)
