"""The app decorators: ``python_app``, ``bash_app`` and ``join_app``."""
from inspect import signature
from typing import Any, Callable, Dict, List, Optional, Sequence, Union


def _check_executors(executors) -> Union[str, List[str]]:
    if executors == 'all':
        return 'all'
    if isinstance(executors, str):
        # Parsl wants a list; a lone label is an easy slip, so say how to write it.
        raise TypeError(f"executors={executors!r}: give a list of labels, e.g. executors=[{executors!r}], or 'all'")
    if isinstance(executors, (list, tuple)) and all(isinstance(e, str) for e in executors) and executors:
        return list(executors)
    raise TypeError(f"executors={executors!r}: give a non-empty list of executor labels, or 'all'")


class AppBase:
    """What the decorators make: calling it submits a task and returns an AppFuture."""

    def __init__(self, func: Callable, data_flow_kernel=None, executors: Union[List[str], str] = 'all',
                 cache: bool = False, ignore_for_cache: Optional[Sequence[str]] = None) -> None:
        if not callable(func):
            raise TypeError(f"an app decorator takes a function, not {type(func).__name__} ({func!r}); "
                            "write @python_app above a def")
        if not isinstance(cache, bool):
            raise TypeError(f"cache={cache!r}: give True or False")
        if ignore_for_cache is not None and (isinstance(ignore_for_cache, str)
                                             or not all(isinstance(k, str) for k in ignore_for_cache)):
            raise TypeError(f"ignore_for_cache={ignore_for_cache!r}: give a list of argument names")
        self.__name__ = getattr(func, '__name__', type(func).__name__)
        self.__doc__ = getattr(func, '__doc__', None)
        self.__wrapped__ = func
        self.func = func
        self.data_flow_kernel = data_flow_kernel
        self.executors = _check_executors(executors)
        self.cache = cache
        self.ignore_for_cache = list(ignore_for_cache) if ignore_for_cache is not None else None
        # Parsed once; BashApp reads every default from it.
        try:
            self.parameters = dict(signature(func).parameters)
        except (TypeError, ValueError):
            self.parameters = {}
        self.kwargs: Dict[str, Any] = {}
        for name in ('stdout', 'stderr', 'walltime', 'parsl_resource_specification', 'outputs', 'inputs'):
            if name in self.parameters:
                self.kwargs[name] = self.parameters[name].default

    def _dfk(self):
        if self.data_flow_kernel is not None:
            return self.data_flow_kernel
        return _loader().dfk()

    def __call__(self, *args: Any, **kwargs: Any):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__}>"


_LOADER = None


def _loader():
    """``DataFlowKernelLoader``, imported on first use (a worker that unpickles an app
    never needs the DataFlowKernel) and kept: an import statement per app call costs
    more than a microsecond."""
    global _LOADER
    if _LOADER is None:
        from chervil.dataflow.dflow import DataFlowKernelLoader
        _LOADER = DataFlowKernelLoader
    return _LOADER


def _decorator(make, function, **options):
    if function is not None and not callable(function):
        raise TypeError(f"an app decorator takes a function, not {type(function).__name__} ({function!r}); "
                        "pass options by name, e.g. @python_app(executors=['threads'])")

    def decorate(func: Callable):
        return make(func, **options)

    return decorate(function) if function is not None else decorate


def python_app(function: Optional[Callable] = None, data_flow_kernel=None, cache: bool = False,
               executors: Union[List[str], str] = 'all', ignore_for_cache: Optional[Sequence[str]] = None):
    """Makes a function an app that runs asynchronously on an executor.

    Use bare (``@python_app``) or with options (``@python_app(executors=['htex'])``).
    """
    from chervil.app.python import PythonApp
    return _decorator(PythonApp, function, data_flow_kernel=data_flow_kernel, cache=cache,
                      executors=executors, ignore_for_cache=ignore_for_cache, join=False)


def join_app(function: Optional[Callable] = None, data_flow_kernel=None, cache: bool = False,
             ignore_for_cache: Optional[Sequence[str]] = None):
    """Makes a function an app that runs in the client and returns futures (one, or a
    list); its own future resolves to their results."""
    from chervil.app.python import PythonApp
    return _decorator(PythonApp, function, data_flow_kernel=data_flow_kernel, cache=cache,
                      executors=['_parsl_internal'], ignore_for_cache=ignore_for_cache, join=True)


def bash_app(function: Optional[Callable] = None, data_flow_kernel=None, cache: bool = False,
             executors: Union[List[str], str] = 'all', ignore_for_cache: Optional[Sequence[str]] = None):
    """Makes a function that returns a command line an app that runs it in a shell.

    The result is the exit code (0); a non-zero exit raises ``BashExitFailure``.
    ``stdout=``/``stderr=`` take a path, a ``(path, mode)`` pair or a File.
    """
    from chervil.app.bash import BashApp
    return _decorator(BashApp, function, data_flow_kernel=data_flow_kernel, cache=cache,
                      executors=executors, ignore_for_cache=ignore_for_cache)


App = AppBase
