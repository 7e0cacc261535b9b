"""The DataFlowKernel's Python side: futures, payloads and executors.

The decisions — what waits on what, when a task is ready, whether a failure is
retried, when a failure propagates, when a join is done — are made by the Rust
kernel (``chervil._core.KernelHandle``). This module feeds it events and carries out
the commands it returns: launch a try on an executor, or complete a future.

Commands are carried out in the order the kernel gives them, on the thread that
caused them, through a per-thread queue (so a completion that triggers a launch that
completes at once does not recurse).
"""
import atexit
import collections
import concurrent.futures as cf
import logging
import os
import pathlib
import random
import sys
import threading
import time
import uuid
import weakref
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Tuple

from chervil import _core
from chervil.app.errors import RemoteExceptionWrapper
from chervil.app.futures import DataFuture
from chervil.config import Config
from chervil.data_provider.data_manager import DataManager
from chervil.data_provider.files import File
from chervil.dataflow.dependency_resolvers import DEEP_DEPENDENCY_RESOLVER, SHALLOW_DEPENDENCY_RESOLVER
from chervil.dataflow.errors import DataFlowException, DependencyError, JoinError
from chervil.dataflow.futures import AppFuture
from chervil.dataflow import progress_line
from chervil.dataflow.memoization import BasicMemoizer
from chervil.dataflow.rundirs import make_rundir
from chervil.dataflow.states import States
from chervil.dataflow.taskrecord import TaskRecord
from chervil.errors import ConfigurationError, NoDataFlowKernelError
from chervil.executors.threads import ThreadPoolExecutor
from chervil.jobs.job_status_poller import JobStatusPoller
from chervil.log_utils import file_handler
from chervil.logconfigs.base import LogConfig, oneshot_initialize_logging, oneshot_uninitialize_logging
from chervil.logconfigs.noop import NoopLogging
from chervil.serialize import DeserializationError, Slot
from chervil.utils import get_std_fname_mode

logger = logging.getLogger(__name__)

# Command kinds and failure causes, as chervil._core encodes them.
_LAUNCH, _COMPLETE, _FAIL, _LAUNCHED = _core.LAUNCH, _core.COMPLETE, _core.FAIL, _core.LAUNCHED
#: A state by its value: a command carries the value, and ``States(value)`` costs a
#: microsecond a task through Enum's machinery.
_STATE_OF = {s.value: s for s in States}
_CAUSE_TRY, _CAUSE_DEPENDENCY, _CAUSE_JOIN = _core.CAUSE_TRY, _core.CAUSE_DEPENDENCY, _core.CAUSE_JOIN

INTERNAL_EXECUTOR = '_parsl_internal'

# With these, a task whose arguments hold no future has nothing to unwrap.
_BUILTIN_RESOLVERS = (SHALLOW_DEPENDENCY_RESOLVER, DEEP_DEPENDENCY_RESOLVER)
# What makes a task more than plain values (see DataFlowKernel._plain).
_SPECIAL = (cf.Future, File)
_SPECIAL_KEYS = frozenset(('inputs', 'outputs', 'stdout', 'stderr'))
_FILES = (File, DataFuture)


def _carries_files(args, kwargs) -> bool:
    """Whether staging has anything to look at: a File, or a DataFuture of one, among
    the arguments, the keyword arguments or ``inputs`` (a task that only waits on other
    tasks' results, a chain's link, skips it)."""
    for v in args:
        if isinstance(v, _FILES):
            return True
    for k, v in kwargs.items():
        if k == 'inputs':
            if v and any(isinstance(i, _FILES) for i in v):
                return True
        elif k not in _SPECIAL_KEYS and isinstance(v, _FILES):
            return True
    return False


def _empty_list(v: Any) -> bool:
    return type(v) in (list, tuple) and not v
AUTO_LOGNAME = -1


#: The most results a task may wait on and still be launched by the engine (see
#: DataFlowKernel._splice).
_SPLICE_MAX_DEPS = 8


class _NotSpliced(Exception):
    """A task's arguments wait on something the engine cannot splice (DataFlowKernel._splice)."""


class _Unreadable:
    """A try's returned value that this side cannot unpickle (or that unpickled to a
    RemoteExceptionWrapper): what its task's future raises."""

    __slots__ = ('error',)

    def __init__(self, tid: int, why: Any) -> None:
        if isinstance(why, RemoteExceptionWrapper):
            try:
                why.reraise()
            except BaseException as e:
                why = e
            self.error = why
        else:
            self.error = DeserializationError(f"the result of task {tid}", why)


def _failed(f: cf.Future) -> bool:
    return f.cancelled() or f.exception() is not None


def _exception_of(f: cf.Future) -> BaseException:
    return cf.CancelledError(f"{f!r} was cancelled") if f.cancelled() else f.exception()


class DataFlowKernel:
    """Runs a workflow: tracks every task from submission to its final state.

    Usually made by ``chervil.load(config)``; usable as a context manager, whose exit
    follows ``Config.exit_mode``.
    """

    def __init__(self, config: Optional[Config] = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise ConfigurationError(f"load() takes a chervil Config, not {type(config).__name__}")
        self._config = config
        self.run_dir = make_rundir(config.run_dir)
        self.run_id = str(uuid.uuid4())
        self._log_handler = None
        # Whether a handler besides parsl.log listened at the last submit: Parsl's per-task
        # records are made for it (see `_someone_listens`).
        self._listening = False
        self._log_config = None
        if isinstance(config.initialize_logging, LogConfig):
            # The user's set-up (JSONLogging, FileLogging, …), shared by runs that share it.
            self._log_config = config.initialize_logging
            oneshot_initialize_logging(log_config=self._log_config, log_dir=pathlib.Path(self.run_dir),
                                       log_name='parsl')
            if not isinstance(self._log_config, NoopLogging):
                _core.set_log_file(os.path.join(self.run_dir, 'chervil.log'), debug=True)
        elif config.initialize_logging:
            self._log_handler, self._log_detach = file_handler(os.path.join(self.run_dir, 'parsl.log'))
            # Per-task records are for other listeners (see `_someone_listens`); parsl.log
            # gets the engine's per-task lines in chervil.log instead.
            self._log_handler.addFilter(lambda r: not hasattr(r, 'parsl.task'))
            _core.set_log_file(os.path.join(self.run_dir, 'chervil.log'), debug=True)
        logger.info("Chervil run %s starting in %s", self.run_id, self.run_dir)

        self._kernel = _core.KernelHandle(retries=float(config.retries), garbage_collect=config.garbage_collect)
        # A live line on stderr when asked for (CHERVIL_PROGRESS=1) and stderr is a terminal
        # (the engine's rule, as on the Rust front); the script's prints step round it.
        if self._kernel.start_progress():
            progress_line.install(self._kernel)
        self.monitoring = config.monitoring
        # The engine's monitor when the config has a MonitoringHub: the kernel sends it every
        # state change itself; executors send their blocks' (see `add_executors`).
        self._monitor = None
        if self.monitoring is not None:
            self._monitor = self.monitoring.start(self.run_id, self.run_dir, config.run_dir)
            self._kernel.attach_monitor(self._monitor)
        # Records of unfinished tasks (of every task without garbage collection), by id.
        self.tasks: Dict[int, Dict[str, Any]] = {}
        self._submit_lock = threading.Lock()
        # Guards `record['_held']`: a task whose stage-out is still being wired is not
        # launched yet, even if its dependencies finish meanwhile (see `submit`).
        self._held_lock = threading.Lock()
        self._local = threading.local()
        # One bound method for every try's callback, not one made per try.
        self._on_try_finished = self._try_finished
        self.dependency_resolver = config.dependency_resolver or SHALLOW_DEPENDENCY_RESOLVER
        self.cleanup_called = False
        self.executors: Dict[str, Any] = {}
        self.memoizer = config.memoizer if config.memoizer is not None else BasicMemoizer(
            checkpoint_files=config.checkpoint_files, checkpoint_period=config.checkpoint_period,
            checkpoint_mode=config.checkpoint_mode, memoize=config.app_cache)
        # Before any executor starts: a bad checkpoint stops the run with nothing to clean up.
        try:
            self.memoizer.start(run_dir=self.run_dir, config_run_dir=config.run_dir)
        except Exception:
            self._stop_progress()
            if self.monitoring is not None:
                self._kernel.end_workflow()
                self.monitoring.close()
            self._close_log()
            raise
        self.data_manager = DataManager(self)
        self.job_status_poller = JobStatusPoller(config.strategy, config.strategy_period, config.max_idletime)
        internal = ThreadPoolExecutor(label=INTERNAL_EXECUTOR, max_threads=config.internal_tasks_max_threads)
        self.add_executors([*config.executors, internal])
        atexit.register(self.atexit_cleanup)

    # ----- public API -----

    @property
    def config(self) -> Config:
        return self._config

    @property
    def task_count(self) -> int:
        return self._kernel.submitted

    @property
    def task_state_counts(self) -> Dict[States, int]:
        return {States(v): n for v, n in self._kernel.state_counts()}

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        mode = self._config.exit_mode
        if mode == 'skip':
            return
        if mode == 'wait' and exc_type is None:
            self.wait_for_current_tasks()
        self.cleanup()

    def add_executors(self, executors) -> None:
        for executor in executors:
            if executor.label in self.executors:
                raise ConfigurationError(f"an executor labelled {executor.label!r} is already loaded")
            executor.run_id = self.run_id
            executor.run_dir = self.run_dir
            executor.log_config = self._log_config  # (Parsl's: the run's LogConfig, if one)
            executor.monitor = self._monitor
            if self.monitoring is not None and self.monitoring.resource_monitoring_enabled:
                executor.resource_monitoring_interval = float(self.monitoring.resource_monitoring_interval)
            self.executors[executor.label] = executor
            executor.start()
            attach = getattr(executor, 'attach_kernel', None)
            if attach is not None:
                # its tries' successes go to the kernel in the engine (see _tries_succeeded)
                attach(self._kernel, self._on_try_finished, self._tries_succeeded)
            logger.info("Executor %s (%s) started", executor.label, type(executor).__name__)
        self.job_status_poller.add_executors(executors)

    def submit(self, func, app_args: Sequence[Any], executors='all', cache: bool = False,
               ignore_for_cache: Optional[Sequence[str]] = None, app_kwargs: Optional[Dict[str, Any]] = None,
               join: bool = False) -> AppFuture:
        """Adds a task; returns its AppFuture. Apps call this; scripts rarely do."""
        if self.cleanup_called:
            raise NoDataFlowKernelError("this DataFlowKernel has been cleaned up and takes no new tasks; "
                                        "load a new config with chervil.load() first")
        if app_kwargs is None:  # an app passes a dict of its own making, which is kept as Parsl does
            app_kwargs = {}
        func_name = getattr(func, '__name__', type(func).__name__)
        label = self._choose_executor(func_name, executors)
        record = TaskRecord(self, func, func_name, tuple(app_args), app_kwargs, label, cache, join, time.time())
        if ignore_for_cache:
            record.ignore_for_cache = list(ignore_for_cache)
        app_fu = AppFuture(record)
        record.app_fu = app_fu
        # Most tasks take plain values: nothing to stage, wait for or unwrap, and the
        # steps for those are skipped (see `_plain`).
        plain = self._plain(record.args, app_kwargs)
        staging = not app_kwargs.get('_parsl_staging_inhibit', False)
        if plain:
            outputs: List[File] = []
            depends: List[cf.Future] = []
            own: List[int] = []
            external: List[cf.Future] = []
            external_failed = False
        else:
            outputs = app_kwargs.get('outputs') or []
            bad = [o for o in outputs if not isinstance(o, File)]
            if bad:
                raise TypeError(f"outputs= of app {func_name} takes File objects, not {bad!r}; "
                                "wrap each path as File('path')")
            if staging and _carries_files(record.args, app_kwargs):
                record.func, record.args = self._stage_in(label, func, record.args, app_kwargs)
            depends = self._gather_deps(record.args, app_kwargs)
            if depends:
                record.depends = depends
            own, external, external_failed = self._classify(depends)

        with self._submit_lock:
            tid = self._kernel.submitted
            record.id = tid
            std_files: List[str] = []
            if not plain:
                self._std_autopath(record)  # may give stdout/stderr Files (std_autopath=…)
                std_files = [std for std in ('stdout', 'stderr') if isinstance(app_kwargs.get(std), File)]
                if not staging:
                    app_fu._outputs = [DataFuture(app_fu, f, tid=tid) for f in outputs]
                    for std in std_files:
                        setattr(app_fu, f'_{std}_future', DataFuture(app_fu, app_kwargs[std], tid=tid))
            self.tasks[tid] = record
            if staging and (outputs or std_files):
                record['_held'] = None
            elif own and not external and not join and not record.memoize:
                self._splice(record, label)
            try:
                if self._monitor is None:
                    got, commands = self._kernel.submit(func_name, label, join, own, len(external), external_failed)
                else:
                    # (the kernel records a memoized task's launch once the memo table missed)
                    got, commands = self._kernel.submit(func_name, label, join, own, len(external), external_failed,
                                                        self._task_row(record), bool(record.memoize))
            except Exception:
                del self.tasks[tid]
                if record._spliced:
                    self.executors[label].forget_splice(tid)
                raise
        assert got == tid, "task ids are given out under the submit lock"
        if staging and (outputs or std_files):
            # Outside the lock: a stage-out may submit a task of its own. Until it is
            # wired, a launch (from a dependency finishing on another thread) is held.
            self._stage_out(record, outputs, std_files)
            with self._held_lock:
                held = record.pop('_held')
            if held is not None:
                commands = [(_LAUNCH, tid, held, None), *commands]
        # Per-task lifecycle lines are the engine's (chervil.log at debug level): Python's
        # logging costs ~35 µs a line, more than the rest of a task's client-side work.
        # Parsl's per-task records (with ``parsl.task`` attributes that tools filter on)
        # are made only when a handler other than our parsl.log would receive them.
        self._listening = self._someone_listens()
        if self._listening:
            self._log_binding(record, depends)
        for f in external:
            f.add_done_callback(partial(self._external_done, tid))
        self._act(commands)
        return app_fu

    def checkpoint(self) -> None:
        """Writes the checkpoint of tasks finished since the last one
        (``checkpoint_mode='manual'``; the other modes write on their own)."""
        self.memoizer.checkpoint()

    def wait_for_current_tasks(self) -> None:
        """Blocks until every task submitted so far (and any they submit) is final."""
        logger.info("Waiting for all remaining tasks to complete")
        while True:
            pending = [f for r in list(self.tasks.values()) if (f := r['app_fu']) is not None and not f.done()]
            if not pending:
                break
            cf.wait(pending)
        logger.info("All remaining tasks completed")

    def _stop_progress(self) -> None:
        progress_line.uninstall()
        self._kernel.stop_progress()

    def log_task_states(self) -> None:
        """Logs how many tasks are in each state, in Parsl's words (at cleanup too)."""
        logger.info("Summary of tasks in DFK:")
        counts = self.task_state_counts
        for state in States:
            logger.info("Tasks in state %s: %s", state, counts.get(state, 0))
        logger.info("End of summary")

    def cleanup(self) -> None:
        """Shuts the executors down and stops taking tasks. Tasks not yet finished are
        not waited for (use ``wait_for_current_tasks()`` first, or ``exit_mode='wait'``)."""
        if self.cleanup_called:
            raise DataFlowException("attempt to clean up a DataFlowKernel that has already been cleaned up")
        self.cleanup_called = True
        self._kernel.close()
        self._stop_progress()
        self.log_task_states()
        self.job_status_poller.close()
        for executor in self.executors.values():
            try:
                executor.shutdown()
            except Exception:
                logger.exception("Executor %s failed to shut down", executor.label)
        try:
            self.memoizer.close()
        except Exception:
            logger.exception("The final checkpoint failed")
        if self.monitoring is not None:
            self._kernel.end_workflow()  # the workflow row's end, with Parsl's counts (the engine's rule)
            self.monitoring.close()
        atexit.unregister(self.atexit_cleanup)
        if DataFlowKernelLoader._dfk is self:
            DataFlowKernelLoader.clear()
        logger.info("DFK cleanup complete")
        self._close_log()

    @staticmethod
    def _task_row(record: Dict[str, Any]) -> Tuple[bool, Optional[str], Optional[str], Optional[str], Optional[str]]:
        """What the monitoring database's ``task`` row holds that only the front knows,
        in Parsl's text forms."""
        kwargs = record['kwargs']
        if not kwargs:  # the common case, on every submit of a monitored run: no text to make
            return (bool(record['memoize']), None, None, None, None)
        # None is written as Parsl writes a missing value: 'None' for inputs and outputs
        # (str(None)), '' for stdout and stderr.
        inputs, outputs = kwargs.get('inputs'), kwargs.get('outputs')
        return (bool(record['memoize']), None if inputs is None else str(inputs),
                None if outputs is None else str(outputs), _std_name('stdout', kwargs.get('stdout')),
                _std_name('stderr', kwargs.get('stderr')))

    def _someone_listens(self) -> bool:
        """True when a handler other than our parsl.log (or a NullHandler) would get a
        record from this module at INFO: a user's handler, pytest's log capture (not
        ``set_stream_logger(level=WARNING)``'s, which would drop every one)."""
        if not logger.isEnabledFor(logging.INFO):
            return False
        node: Optional[logging.Logger] = logger
        while node is not None:
            for handler in node.handlers:
                if (handler is not self._log_handler and handler.level <= logging.INFO
                        and not isinstance(handler, logging.NullHandler)):
                    return True
            if not node.propagate:
                return False
            node = node.parent
        return False

    def _log_binding(self, record: Dict[str, Any], depends: List[cf.Future]) -> None:
        tid, name = record['id'], record['func_name']
        for d in depends:
            if isinstance(d, AppFuture) and d.task_record.get('dfk') is self:
                logger.info("Task %s has dependency task %s", tid, d.tid,
                            extra={'parsl.task': tid, 'parsl.dependency_task': d.tid})
            else:
                logger.info("Task %s has dependency future %r", tid, d,
                            extra={'parsl.task': tid, 'parsl.dependency_object': repr(d)})
        logger.info("Task %s submitted for App %s to executor %s", tid, name, record['executor'],
                    extra={'parsl.task': tid, 'parsl.app_name': name, 'parsl.dfk': self.run_id})
        logger.info("Task %s initializing state to pending", tid,
                    extra={'parsl.dfk': self.run_id, 'parsl.task': tid, 'parsl.task_state': 'pending'})

    def _log_state(self, record, state: States) -> None:
        """Parsl's record of a task's change of state (for listeners: see ``_listening``)."""
        tid = record.id
        logger.info("Task %s changing state from %s to %s", tid, record.status.name, state.name,
                    extra={'parsl.dfk': self.run_id, 'parsl.task': tid, 'parsl.task_state': state.name})

    def _log_try(self, record, try_id: int, executor_task: Optional[int]) -> None:
        """Parsl's record binding a try to its executor (and the executor's own task id)."""
        tid, label = record.id, record.executor
        extra = {'parsl.dfk': self.run_id, 'parsl.task': tid, 'parsl.try': try_id, 'parsl.executor': label}
        if executor_task is None:
            logger.info("Parsl task %s try %s launched on executor %s", tid, try_id, label, extra=extra)
        else:
            extra['parsl.executor_task'] = executor_task
            logger.info("Parsl task %s try %s launched on executor %s with executor id %s", tid, try_id, label,
                        executor_task, extra=extra)

    def _close_log(self) -> None:
        _core.flush_log()
        if self._log_config is not None:
            oneshot_uninitialize_logging(log_config=self._log_config)
            self._log_config = None
        if self._log_handler is not None:
            try:
                self._log_detach()
            except OSError as e:
                # A full (or vanished) disk costs the log's last lines, never the run's end:
                # every task has its outcome by now.
                print(f"chervil: could not close parsl.log: {e}", file=sys.stderr)
            self._log_handler = None

    def atexit_cleanup(self) -> None:
        if not self.cleanup_called:
            logger.warning("Python is exiting with a DataFlowKernel still loaded; call "
                           "chervil.dfk().cleanup() (or use `with chervil.load(config):`) to release it")

    # ----- submission helpers -----

    def _choose_executor(self, func_name: str, executors) -> str:
        if executors == 'all':
            choices = [lbl for lbl in self.executors if lbl != INTERNAL_EXECUTOR]
        else:
            unknown = [lbl for lbl in executors if lbl not in self.executors]
            if unknown:
                known = [lbl for lbl in self.executors if lbl != INTERNAL_EXECUTOR]
                raise ValueError(f"app {func_name} asks for executor(s) {unknown}, but the loaded config has only "
                                 f"{known}; change the app's executors= or add an executor with that label")
            choices = list(executors)
        return choices[0] if len(choices) == 1 else random.choice(choices)

    def _plain(self, args: tuple, kwargs: Dict[str, Any]) -> bool:
        """True when no argument is a future or a File and there are no ``inputs``,
        ``outputs``, ``stdout`` or ``stderr`` to look at — with Parsl's default
        (shallow) resolver, such a task has nothing to stage, wait for or unwrap."""
        if self.dependency_resolver is not SHALLOW_DEPENDENCY_RESOLVER:
            return False
        for v in args:
            if isinstance(v, _SPECIAL):
                return False
        for k, v in kwargs.items():
            if isinstance(v, _SPECIAL) or (k in _SPECIAL_KEYS and v is not None and not _empty_list(v)):
                return False
        return True

    def _stage_in(self, label: str, func, args, kwargs):
        """Files among the arguments go to the executor's staging providers, which may
        swap one for a DataFuture of a staging task, or wrap ``func`` to fetch it."""
        dm = self.data_manager
        if 'inputs' in kwargs and kwargs['inputs']:
            inputs = list(kwargs['inputs'])
            for i, v in enumerate(inputs):
                inputs[i], func = dm.optionally_stage_in(v, func, label)
            kwargs['inputs'] = inputs
        for k, v in list(kwargs.items()):
            if k not in ('stdout', 'stderr', 'inputs', 'outputs'):
                kwargs[k], func = dm.optionally_stage_in(v, func, label)
        new_args = list(args)
        for i, v in enumerate(new_args):
            new_args[i], func = dm.optionally_stage_in(v, func, label)
        return func, tuple(new_args)

    def _stage_out(self, record, outputs, std_files) -> None:
        """Each output File (and a File given as stdout=/stderr=): the task gets a copy
        that staging may place elsewhere; its DataFuture completes when the task and
        any stage-out are done."""
        dm, label, app_fu, kwargs = self.data_manager, record['executor'], record['app_fu'], record['kwargs']

        def one(f: File) -> Tuple[File, DataFuture]:
            copy = f.cleancopy()
            done = dm.stage_out(copy, label, app_fu)
            record['func'] = dm.replace_task_stage_out(copy, record['func'], label)
            return copy, DataFuture(done if done is not None else app_fu, f, tid=record['id'])

        if outputs:
            staged = [one(f) for f in outputs]
            kwargs['outputs'] = [copy for copy, _ in staged]
            app_fu._outputs = [fut for _, fut in staged]
        for std in std_files:
            kwargs[std], fut = one(kwargs[std])
            setattr(app_fu, f'_{std}_future', fut)

    def _gather_deps(self, args, kwargs) -> List[cf.Future]:
        gather = self.dependency_resolver.traverse_to_gather
        deps: List[cf.Future] = []
        for a in args:
            deps.extend(gather(a))
        for v in kwargs.values():
            deps.extend(gather(v))
        for a in kwargs.get('inputs') or []:
            deps.extend(gather(a))
        return deps

    def _classify(self, futures) -> Tuple[List[int], List[cf.Future], bool]:
        """Splits futures into this kernel's tasks (by id), and others the front waits on."""
        own, external, external_failed = [], [], False
        for f in futures:
            if isinstance(f, AppFuture) and f.task_record.get('dfk') is self:
                own.append(f.tid)
            elif f.done():
                external_failed |= _failed(f)
            else:
                external.append(f)
        return own, external, external_failed

    def _splice(self, record, label: str) -> None:
        """When every future among the task's arguments is a task of its own executor
        (an HTEX whose results reach the engine), pickles its call now with a
        placeholder for each result still to come, so that the engine launches it
        the moment the last one returns, with no trip through Python (chervil-py's
        ``splice`` module): a dependency chain's next link leaves before this side
        has seen the last. Anything else launches the usual way, and so does a task
        that waits on more than ``_SPLICE_MAX_DEPS`` results: each result a template
        waits on is kept and reported to the kernel on the interchange thread as it
        comes in, a cost per dependency for one trip saved per task, which a fan-in
        of thousands pays in full (-18% on the fan-in benchmark) and gains nothing."""
        if self.dependency_resolver is not SHALLOW_DEPENDENCY_RESOLVER:
            return
        splice = getattr(self.executors[label], 'splice', None)
        if splice is None:
            return
        deps: List[int] = []
        slots: Dict[int, Slot] = {}

        def placed(v):
            if not isinstance(v, cf.Future):
                return v
            dep = v.task_record if isinstance(v, AppFuture) else None
            if dep is None or dep.executor != label or dep.join or dep.dfk is not self:
                raise _NotSpliced
            if v.done():
                if _failed(v):
                    raise _NotSpliced  # the kernel fails this task; nothing to launch
                return v.result()
            slot = slots.get(dep.id)
            if slot is None:
                if len(deps) == _SPLICE_MAX_DEPS:
                    raise _NotSpliced
                slot = slots[dep.id] = Slot(len(deps))
                deps.append(dep.id)
            return slot

        try:
            args, kwargs = self._unwrap(record.args, record.kwargs, placed)
        except _NotSpliced:
            return
        if deps and splice(record.id, deps, record.func, getattr(record, 'resource_specification', None), args, kwargs):
            record._spliced = True

    def _std_autopath(self, record) -> None:
        for kw in ('stdout', 'stderr'):
            spec = record['kwargs'].get(kw)
            if isinstance(spec, int) and not isinstance(spec, bool) and spec == AUTO_LOGNAME:
                if kw not in record['ignore_for_cache']:
                    record['ignore_for_cache'] = [*record['ignore_for_cache'], kw]
                if self._config.std_autopath is not None:
                    record['kwargs'][kw] = self._config.std_autopath(record, kw)
                else:
                    tid = record['id']
                    label = record['kwargs'].get('label')
                    name = f"task_{tid:04d}_{record['func_name']}{'' if label is None else '_' + str(label)}.{kw}"
                    record['kwargs'][kw] = os.path.join(self.run_dir, 'task_logs', f"{tid // 10000:04d}", name)

    def _describe(self, f: cf.Future) -> str:
        if isinstance(f, AppFuture) and f.task_record.get('dfk') is self:
            return f"task {f.tid}"
        if isinstance(f, DataFuture):
            return f"DataFuture from task {f.tid}"
        return repr(f)

    # ----- carrying out the kernel's commands -----

    def _act(self, commands) -> None:
        if not commands:
            return
        queue = getattr(self._local, 'queue', None)
        if queue is not None:
            queue.extend(commands)
            return
        queue = self._local.queue = collections.deque(commands)
        try:
            while queue:
                kind, tid, value, cause = queue.popleft()
                try:
                    if kind == _LAUNCH:
                        self._launch(tid, value)
                    elif kind == _LAUNCHED:
                        self._launched(self.tasks[tid], value)
                    elif kind == _COMPLETE:
                        self._complete(tid, _STATE_OF[value])
                    else:
                        self._fail(tid, _STATE_OF[value], cause)
                except Exception:
                    logger.exception("Internal error acting on command %s for task %s", kind, tid)
        finally:
            self._local.queue = None

    def _launch(self, tid: int, try_id: int) -> None:
        record = self.tasks[tid]
        # (the record's slots read directly: its dict-like reads cost a microsecond each
        # here, on every task, when the field is unset)
        extra = getattr(record, '_extra', None)
        if extra is not None and '_held' in extra:
            with self._held_lock:
                if '_held' in record:
                    record['_held'] = try_id
                    return
        self._launched(record, try_id)
        try:
            if record._spliced:
                if self.executors[record.executor].launch_spliced(tid, try_id):
                    if self._listening:
                        self._log_try(record, try_id, None)
                    return
                if self._dependencies_unset(record, tid, try_id):
                    return
                # a result it needed was gone: the usual way, now and for retries
                record._spliced = False
                self.executors[record.executor].forget_splice(tid)
                self._resolve_arguments(record)
            elif try_id == 0:
                if getattr(record, 'depends', None) or self.dependency_resolver not in _BUILTIN_RESOLVERS:
                    if self._dependencies_unset(record, tid, try_id):
                        return
                    self._resolve_arguments(record)
            if record.memoize:
                # Every try looks in the table, as Parsl's launch_task does.
                if self._memo_hit(record, try_id):
                    return
                if self._monitor is not None:
                    self._kernel.memo_missed(tid, try_id)  # its `launched` row waits for this
            executor = self.executors[record.executor]
            submit_to = getattr(executor, 'submit_to', None)
            if submit_to is not None:
                # HTEX hands the outcome straight to _try_finished: no Future per try. The
                # key holds the record's own id object, not the equal one a command carried
                # (28 bytes a pending task).
                record.exec_fu = None
                # A join app's try returns futures, which only this side can follow.
                on_done = self._join_try_finished if record.join else self._on_try_finished
                executor_task = submit_to(on_done, (record.id, try_id), record.func,
                                          getattr(record, 'resource_specification', None), *record.args, **record.kwargs)
                if self._listening:
                    self._log_try(record, try_id, executor_task)
                return
            exec_fu = executor.submit(record.func, record['resource_specification'],
                                      *record.args, **record.kwargs)
            if self._listening:
                self._log_try(record, try_id, getattr(exec_fu, 'parsl_executor_task_id', None))
        except Exception as e:
            logger.debug("Task %s try %s could not be launched", tid, try_id, exc_info=True)
            exec_fu = cf.Future()
            exec_fu.set_exception(e)
        record.exec_fu = exec_fu
        exec_fu.add_done_callback(partial(self._try_done, tid, try_id))

    def _dependencies_unset(self, record, tid: int, try_id: int) -> bool:
        """True when a dependency's future is not set yet, and the launch then waits for
        it. The kernel launches a task once its dependencies succeeded, and it can learn
        of one (from the engine's results hook, htex::Book) a batch before this side has
        set that dependency's future: the results thread would then block in ``_unwrap``
        on a future that only it would set, later in the same batch or the next."""
        for d in getattr(record, 'depends', None) or ():
            if not d.done():
                d.add_done_callback(lambda _d: self._act([(_LAUNCH, tid, try_id, None)]))
                return True
        return False

    def _launched(self, record, try_id: int) -> None:
        if self._listening:
            self._log_state(record, States.launched)
        record.try_id = try_id
        record.status = States.launched
        record._try_time_launched = time.time()

    def _resolve_arguments(self, record) -> None:
        """The task's arguments with its dependencies' values in place of their futures
        (all set by now), kept for every try; monitoring records the inputs it ran with."""
        record.args, record.kwargs = self._unwrap(record.args, record.kwargs)
        if self._monitor is not None:
            self._record_inputs(record, record.kwargs)

    def _record_inputs(self, record, kwargs) -> None:
        """The monitoring row's ``task_inputs`` as the task ran them: Parsl writes the
        values its futures resolved to, not the futures it was submitted with."""
        inputs = kwargs.get('inputs')
        if inputs is not None:
            self._monitor.task_inputs(record.id, str(inputs))

    def _memo_hit(self, record, try_id: int) -> bool:
        """Looks the task up in the memo table; True when an earlier outcome will stand in."""
        try:
            memo_fu = self.memoizer.check_memo(record)
        except Exception as e:
            # An argument that cannot be hashed fails the same way on every try.
            self._act(self._try_failed(record, try_id, e, cost=float('inf')))
            return True
        record['from_memo'] = memo_fu is not None
        if self._monitor is not None and record['hashsum']:
            self._monitor.task_hashsum(record['id'], record['hashsum'])
        if memo_fu is not None:
            memo_fu.add_done_callback(partial(self._memo_done, record['id'], try_id))
        return memo_fu is not None

    def _memo_done(self, tid: int, try_id: int, memo_fu: cf.Future) -> None:
        """An earlier task's outcome stands in for this one's."""
        record = self.tasks[tid]
        record._try_time_returned = time.time()
        error = memo_fu.exception()
        if error is not None:
            # Running it again would only meet the same memo entry.
            commands = self._try_failed(record, try_id, error, cost=float('inf'))
        else:
            record._result = memo_fu.result()
            commands = self._kernel.try_succeeded(tid, try_id, True)
        self._act(commands)

    def _unwrap(self, args, kwargs, unwrap=None):
        """The arguments with each future the resolver finds replaced by ``unwrap(future)``
        (its value, unless another ``unwrap`` is given: ``_splice``'s placeholders)."""
        if unwrap is None:
            unwrap = self.dependency_resolver.traverse_to_unwrap
        new_args = tuple([unwrap(a) for a in args])
        new_kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        if 'inputs' in new_kwargs and new_kwargs['inputs']:
            new_kwargs['inputs'] = [unwrap(a) for a in new_kwargs['inputs']]
        return new_args, new_kwargs

    def _try_done(self, tid: int, try_id: int, exec_fu: cf.Future) -> None:
        """A try ended in an executor that returns Futures."""
        ran = getattr(exec_fu, 'chervil_ran', None)  # where and when it ran (the thread pool's: a list of one)
        if isinstance(ran, list):
            ran = ran[0] if ran else None
        sample = getattr(exec_fu, 'chervil_sample', None)  # (interval, sample): Work Queue, TaskVine
        if sample is not None and self._monitor is not None:
            self._monitor.resource(tid, try_id, *sample)
        if exec_fu.cancelled():
            self._try_finished(tid, try_id, False, cf.CancelledError(
                f"try {try_id} of task {tid} was cancelled by its executor"), ran)
            return
        error = exec_fu.exception()
        if error is not None:
            self._try_finished(tid, try_id, False, error, ran)
        else:
            self._try_finished(tid, try_id, True, exec_fu.result(), ran)

    def _try_finished(self, tid: int, try_id: int, ok: bool, value: Any, ran: Optional[tuple] = None) -> None:
        """A try ended: ``value`` is its result, or the exception when not ``ok``."""
        record = self.tasks[tid]
        record._try_time_returned = time.time()
        if self._monitor is not None and ran is not None:
            self._monitor.try_ran(tid, try_id, *ran)
        try:
            if not ok:
                raise value
            if isinstance(value, RemoteExceptionWrapper):
                value.reraise()
        except BaseException as e:  # the task's SystemExit is its outcome, not this thread's end
            commands = self._try_failed(record, try_id, e)
        else:
            if record.join:
                commands = self._join_returned(record, try_id, value)
            else:
                record._result = value
                commands = self._kernel.try_succeeded(tid, try_id)
        self._act(commands)

    def _join_try_finished(self, tid: int, try_id: int, ok: bool, value: Any) -> None:
        """A join app's try ended (``_try_finished``; a callback of its own, so that the
        executor hands its outcome here rather than reporting a success to the kernel)."""
        self._try_finished(tid, try_id, ok, value)

    def _tries_succeeded(self, values: List[Tuple[int, Any, bool]], commands) -> None:
        """A batch of tries returned ``(task, value, loaded)``, and the engine has told the
        kernel already (``attach_kernel``): the values are kept for the kernel's
        ``commands``. A value this side cannot read (not ``loaded``: ``value`` says why)
        still counted as a success: its dependants got it where they ran; its own
        future raises."""
        now = time.time()
        tasks = self.tasks
        for tid, value, loaded in values:
            record = tasks.get(tid)
            if record is None:  # never: the kernel knew it; its commands are logged, not lost
                logger.error("Task %s succeeded but the DataFlowKernel has no record of it", tid)
                continue
            record._try_time_returned = now
            record._result = value if loaded else _Unreadable(tid, value)
        self._act(commands)

    def _try_failed(self, record, try_id: int, e: BaseException, cost: Optional[float] = None):
        tid = record['id']
        record['fail_history'] = [*record['fail_history'], repr(e)]
        record['fail_count'] += 1
        if cost is None:
            cost = 1.0
            handler = self._config.retry_handler
            if handler is not None:
                try:
                    cost = float(handler(e, record))
                except Exception as handler_error:
                    logger.exception("retry_handler raised for task %s; it will not be retried", tid)
                    cost, e = float('inf'), handler_error
        record['fail_cost'] += cost
        record._exception = e
        logger.info("Task %s try %s failed with %s", tid, try_id, type(e).__name__)
        if self._monitor is None:
            commands = self._kernel.try_failed(tid, try_id, cost)
        else:
            commands = self._kernel.try_failed(tid, try_id, cost, repr(e))
        if commands and commands[0][0] == _LAUNCH:
            if self._listening:
                self._log_state(record, States.pending)
            record['status'] = States.pending
        return commands

    def _join_returned(self, record, try_id: int, joinable):
        if isinstance(joinable, cf.Future):
            inner = [joinable]
        elif isinstance(joinable, list) and all(isinstance(j, cf.Future) for j in joinable):
            inner = joinable
        else:
            error = TypeError(f"join_app {record['func_name']} must return a Future or a list of Futures, "
                              f"but returned {joinable!r} of type {type(joinable).__name__}")
            return self._try_failed(record, try_id, error, cost=float('inf'))
        record['joins'] = joinable
        if self._listening:
            self._log_state(record, States.joining)
        record['status'] = States.joining
        own, external, external_failed = self._classify(inner)
        commands = self._kernel.join_returned(record['id'], try_id, own, len(external), external_failed)
        for f in external:
            f.add_done_callback(partial(self._external_done, record['id']))
        return commands

    def _external_done(self, tid: int, f: cf.Future) -> None:
        self._act(self._kernel.external_resolved(tid, _failed(f)))

    def _finish(self, record, state: States) -> AppFuture:
        if record._spliced:
            record._spliced = False
            self.executors[record.executor].forget_splice(record.id)
            if self._monitor is not None and state == States.exec_done and record.kwargs.get('inputs') is not None:
                # It ran with its futures' values, which the engine spliced in; the record
                # still holds the futures.
                self._record_inputs(record, self._unwrap((), {'inputs': record.kwargs.get('inputs')})[1])
        if self._listening:
            self._log_state(record, state)
        record.status = state
        record._time_returned = time.time()
        app_fu = record.app_fu
        if self._config.garbage_collect:
            self.tasks.pop(record.id, None)
            # The future and its record refer to each other; from now on the record's
            # side is weak, so a finished task the user lets go of is freed at once
            # rather than by the cyclic garbage collector, whose full passes over a
            # large run cost the client more than anything else.
            record.app_fu = weakref.ref(app_fu)
        return app_fu

    def _complete(self, tid: int, state: States) -> None:
        record = self.tasks[tid]
        if record.join and state == States.exec_done:
            joins = record.joins
            result = joins.result() if isinstance(joins, cf.Future) else [f.result() for f in joins]
        else:
            result, record._result = record._result, None
            if type(result) is _Unreadable:
                self._finish(record, state).set_exception(result.error)
                return
        if record.hashsum:
            try:
                self.memoizer.update_memo_result(record, result)
            except Exception:  # the result is the user's whatever the memo table thinks
                logger.exception("Task %s's result could not be memoized", tid)
        self._finish(record, state).set_result(result)

    def _fail(self, tid: int, state: States, cause: int) -> None:
        record = self.tasks[tid]
        if cause == _CAUSE_DEPENDENCY:
            failures = [(_exception_of(d), self._describe(d)) for d in record['depends'] if _failed(d)]
            # As in Parsl: one failure, costing one try (the kernel counts the same).
            record['fail_count'] += 1
            record['fail_cost'] += 1
            error: BaseException = DependencyError(failures, tid)
            described = repr(error)
            record['fail_history'] = [*record['fail_history'], described]
            logger.info("Task %s failed because a dependency failed", tid)
            if self._monitor is not None:
                self._monitor.try_failed(tid, record['try_id'], described)
        elif cause == _CAUSE_JOIN:
            joins = record['joins']
            inner = [joins] if isinstance(joins, cf.Future) else joins
            error = JoinError([(_exception_of(f), self._describe(f)) for f in inner if _failed(f)], tid)
            record['fail_count'] += 1
        else:
            error, record._exception = record._exception, None
            logger.info("Task %s failed after %s tries", tid, record['try_id'] + 1)
            if record['hashsum']:
                self.memoizer.update_memo_exception(record, error)
        self._finish(record, state).set_exception(error)


def _std_name(name: str, spec: Any) -> Optional[str]:
    """A ``stdout=``/``stderr=`` spec as the monitoring database names it, as Parsl does:
    a File's URL, else the path (of a ``(path, mode)`` pair, an ``os.PathLike``, bytes)."""
    if spec is None:
        return None
    if isinstance(spec, File):
        return spec.url
    try:
        return get_std_fname_mode(name, spec)[0]
    except Exception:
        logger.exception("Could not read the %s specification %r", name, spec)
        return ''


class DataFlowKernelLoader:
    """Holds the DataFlowKernel that apps use when they name none."""

    _dfk: Optional[DataFlowKernel] = None
    _lock = threading.Lock()

    @classmethod
    def clear(cls) -> None:
        """Forget the loaded DataFlowKernel, so that another can be loaded."""
        cls._dfk = None

    @classmethod
    def load(cls, config: Optional[Config] = None) -> DataFlowKernel:
        """Start a DataFlowKernel for ``config`` (a local thread pool when None)."""
        with cls._lock:
            if cls._dfk is not None:
                raise ConfigurationError("Config has already been loaded; call chervil.dfk().cleanup() "
                                         "(or chervil.clear()) before loading another")
            cls._dfk = DataFlowKernel(config)
            return cls._dfk

    @classmethod
    def dfk(cls) -> DataFlowKernel:
        """The loaded DataFlowKernel."""
        if cls._dfk is None:
            # Parsl's exact words (its tests compare them); the fix is parsl.load(config).
            raise NoDataFlowKernelError("Must first load config")
        return cls._dfk

    @classmethod
    def wait_for_current_tasks(cls) -> None:
        """Wait until every task submitted so far to the loaded DataFlowKernel is done."""
        cls.dfk().wait_for_current_tasks()
