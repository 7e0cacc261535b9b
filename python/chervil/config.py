"""Configuration of a run (Parsl's ``parsl.config.Config``)."""
from typing import Callable, Iterable, Literal, Optional, Sequence, Union

import typeguard

from chervil.errors import ConfigurationError
from chervil.executors.base import ParslExecutor
from chervil.executors.threads import ThreadPoolExecutor
from chervil.logconfigs.base import LogConfig
from chervil.monitoring.monitoring import MonitoringHub

_EXIT_MODES = ('cleanup', 'skip', 'wait')
_STRATEGIES = ('simple', 'htex_auto_scale', 'none', None)
_CHECKPOINT_MODES = (None, 'task_exit', 'periodic', 'dfk_exit', 'manual')


class Config:
    """Everything a run needs: executors, retries, run directory and more.

    The fields and defaults are Parsl's. The older checkpoint fields
    (``checkpoint_mode``, ``checkpoint_files``, ``checkpoint_period``, ``app_cache``)
    are accepted as well as ``memoizer=``.
    """

    # Wrong types are typeguard's TypeCheckError naming the argument, as in Parsl; wrong
    # values of the right type are ConfigurationErrors that say what to write instead.
    @typeguard.typechecked
    def __init__(self,
                 executors: Optional[Iterable[ParslExecutor]] = None,
                 memoizer=None,
                 dependency_resolver=None,
                 exit_mode: Literal['cleanup', 'skip', 'wait'] = 'cleanup',
                 garbage_collect: bool = True,
                 internal_tasks_max_threads: int = 10,
                 retries: int = 0,
                 retry_handler: Optional[Callable] = None,
                 run_dir: str = 'runinfo',
                 std_autopath: Optional[Callable] = None,
                 strategy: Optional[str] = 'simple',
                 strategy_period: Union[float, int] = 5,
                 max_idletime: float = 120.0,
                 monitoring: Optional[MonitoringHub] = None,
                 usage_tracking: int = 0,
                 project_name: Optional[str] = None,
                 initialize_logging: Union[bool, LogConfig] = True,
                 app_cache: bool = True,
                 checkpoint_files: Optional[Sequence[str]] = None,
                 checkpoint_mode: Optional[str] = None,
                 checkpoint_period: Optional[str] = None):
        executors = tuple(executors or ())
        if not executors:
            executors = (ThreadPoolExecutor(),)
        for e in executors:
            if not isinstance(e, ParslExecutor):
                raise ConfigurationError(
                    f"Config(executors=...) holds {e!r}, which is not an executor; pass executor "
                    "objects such as ThreadPoolExecutor(label='threads')")
        labels = [e.label for e in executors]
        dupes = sorted({lbl for i, lbl in enumerate(labels) if lbl in labels[:i]})
        if dupes:
            raise ConfigurationError(
                "Executors must have unique labels; these appear more than once: "
                + ", ".join(f"label={d!r}" for d in dupes))
        if '_parsl_internal' in labels:
            raise ConfigurationError("the executor label '_parsl_internal' is reserved for join apps; choose another")
        if exit_mode not in _EXIT_MODES:
            raise ConfigurationError(f"Config(exit_mode={exit_mode!r}): choose one of {', '.join(_EXIT_MODES)}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"Config(retries={retries!r}): give a whole number of retries, 0 or more")
        if retry_handler is not None and not callable(retry_handler):
            raise ConfigurationError("Config(retry_handler=...) must be a function (exception, task_record) -> cost")
        if strategy not in _STRATEGIES:
            raise ConfigurationError(f"Config(strategy={strategy!r}): choose 'simple', 'htex_auto_scale' or 'none'")
        for name, v, low in (('strategy_period', strategy_period, 0), ("max_idletime", max_idletime, -1e-9)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= low:
                raise ConfigurationError(f"Config({name}={v!r}): give a number of seconds"
                                         + (" greater than 0" if low == 0 else ", 0 or more"))
        if not isinstance(usage_tracking, int) or not 0 <= usage_tracking <= 3:
            raise ConfigurationError(f"Usage Tracking values must be 0, 1, 2, or 3 and not {usage_tracking}")
        if checkpoint_mode not in _CHECKPOINT_MODES:
            raise ConfigurationError(
                f"Config(checkpoint_mode={checkpoint_mode!r}): choose 'task_exit', 'periodic', 'dfk_exit' or 'manual'")
        if memoizer is not None and (checkpoint_mode is not None or checkpoint_files is not None
                                     or checkpoint_period is not None or app_cache is not True):
            raise ConfigurationError(
                "Config: give either memoizer=BasicMemoizer(checkpoint_mode=..., checkpoint_files=..., "
                "checkpoint_period=..., memoize=...) or the older checkpoint_*/app_cache fields, not both")
        if not isinstance(internal_tasks_max_threads, int) or internal_tasks_max_threads < 1:
            raise ConfigurationError("Config(internal_tasks_max_threads=...) must be a whole number of at least 1")
        self._executors = executors
        self.memoizer = memoizer
        self.dependency_resolver = dependency_resolver
        self.exit_mode = exit_mode
        self.garbage_collect = garbage_collect
        self.internal_tasks_max_threads = internal_tasks_max_threads
        self.retries = retries
        self.retry_handler = retry_handler
        self.run_dir = run_dir
        self.std_autopath = std_autopath
        self.strategy = strategy
        self.strategy_period = strategy_period
        self.max_idletime = max_idletime
        self.monitoring = monitoring
        self.usage_tracking = usage_tracking
        self.project_name = project_name
        self.initialize_logging = initialize_logging
        self.app_cache = app_cache
        self.checkpoint_files = checkpoint_files
        self.checkpoint_mode = checkpoint_mode
        self.checkpoint_period = checkpoint_period

    @property
    def executors(self) -> Sequence[ParslExecutor]:
        return self._executors

    def __repr__(self) -> str:
        return f"Config(executors={list(self._executors)!r}, retries={self.retries!r}, run_dir={self.run_dir!r})"
