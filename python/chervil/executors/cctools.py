"""What the Work Queue and TaskVine executors share: finding CCTools, the manager process,
the files a task travels in, and turning finished tasks into futures.

Each try becomes a CCTools task whose sandbox holds ``cctools_task.py`` (cached on each
worker), ``function`` (the serialized app, written once per distinct function and cached
on each worker, so a worker fetches it once), ``argument`` and ``map``, and returns
``result``. The manager (CCTools' own C code through its bindings) runs in a process of
its own (:mod:`chervil.executors.cctools_manager`); this side writes the files, sends one
message per task and reads finished tasks back in batches on a collector thread.

CCTools is found as ``ndcctools`` on ``sys.path`` — ``make cctools`` builds it into the
source tree's ``build/cctools`` and points the interpreter at it — and its programs
(``work_queue_worker``, ``vine_worker``, ``vine_factory``) on ``PATH`` or in the
``bin`` directory of the prefix the bindings were installed in.
"""
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import concurrent.futures as cf
from typing import Any, Dict, List, Optional, Tuple

from chervil.data_provider.files import File
from chervil.errors import OptionalModuleMissing
from chervil.executors import cctools_task
from chervil.executors.cctools_wire import read_message, write_message
from chervil.executors.errors import ExecutorError, InvalidResourceSpecification
from chervil.executors.status_handling import BlockProviderExecutor
from chervil.serialize import deserialize, serialize
from chervil.utils import get_std_fname_mode

logger = logging.getLogger(__name__)

#: The keys of ``parsl_resource_specification`` both executors pass on to CCTools.
RESOURCE_KEYS = ('cores', 'memory', 'disk', 'gpus', 'priority', 'running_time_min')


def bindings(module: str, executor: str):
    """Imports ``ndcctools.<module>``, or says how to get it."""
    try:
        return __import__(f'ndcctools.{module}', fromlist=['_'])
    except ImportError as e:
        raise OptionalModuleMissing(
            [f'ndcctools.{module}'],
            f"{executor} drives CCTools' {module} manager, whose Python bindings could not be imported "
            f"({e}). In a Chervil source tree `make cctools` builds them for this interpreter; otherwise "
            "install CCTools (conda install -c conda-forge ndcctools)") from e


def bin_dir() -> Optional[str]:
    """The ``bin`` directory of the CCTools the bindings came from, if it has the workers."""
    try:
        import ndcctools
    except ImportError:
        return None
    for base in getattr(ndcctools, '__path__', []):
        # <prefix>/lib/pythonX.Y/site-packages/ndcctools -> <prefix>/bin
        candidate = os.path.normpath(os.path.join(base, '..', '..', '..', '..', 'bin'))
        if os.path.isdir(candidate):
            return candidate
    return None


def program(name: str) -> str:
    """The path of a CCTools program: on ``PATH`` first, else beside the bindings; the bare
    name if neither has it (a wrapped or remote worker command may still find it)."""
    found = shutil.which(name)
    if found:
        return found
    directory = bin_dir()
    if directory and os.access(os.path.join(directory, name), os.X_OK):
        return os.path.join(directory, name)
    return name


def staged(file: File, cache: bool) -> Tuple[str, bool, bool]:
    """How a ``File`` travels: its name here, whether the manager moves it, whether workers
    keep it in their cache. Relative local paths are moved by the manager; absolute ones and URLs are left to
    the app (a shared file system, or the DataFlowKernel's own staging), as in Parsl."""
    stage = False
    if file.scheme == 'file' or (file.local_path and os.path.exists(file.local_path)):
        stage = not os.path.isabs(file.filepath)
    return (file.filepath, stage, cache)


def std_stream(name: str, spec) -> Tuple[str, bool, bool]:
    fname, _mode = get_std_fname_mode(name, spec) if not isinstance(spec, File) else (spec.filepath, 'w')
    return (fname, not os.path.isabs(fname), False)


class CCToolsExecutor(BlockProviderExecutor):
    """The client side both executors share; see the module doc."""

    #: 'workqueue' or 'taskvine': which manager the process runs.
    system = ''

    def __init__(self, *, provider) -> None:
        super().__init__(provider=provider, block_error_handler=True)
        self._tasks: Dict[int, cf.Future] = {}
        self._tasks_lock = threading.Lock()
        self._ids = 0
        self._proc: Optional[subprocess.Popen] = None
        self._to_manager = None
        self._send_lock = threading.Lock()
        self._collector: Optional[threading.Thread] = None
        self._functions: Dict[bytes, str] = {}
        self._worker_command = ''
        self._port: Optional[int] = None
        self._outstanding_slots = 0.0
        self._stopping = False

    # -- what each executor provides ----------------------------------------------------

    def _settings(self) -> Dict[str, Any]:
        """The manager's settings (see cctools_manager)."""
        raise NotImplementedError

    def _resources(self, spec: Dict[str, Any], func) -> Dict[str, Any]:
        """The task's CCTools resources and category from its resource specification."""
        raise NotImplementedError

    def _command(self, exec_mode: str) -> str:
        """The command that runs a task in its sandbox."""
        raise NotImplementedError

    def _slots(self, spec: Dict[str, Any]) -> float:
        """What a pending task counts for when scaling."""
        return 1.0

    def _cache_inputs(self) -> bool:
        return False

    def _shared_fs(self) -> bool:
        return False

    # -- start -------------------------------------------------------------------------

    @property
    def log_dir(self) -> str:
        return os.path.join(os.path.abspath(self.run_dir), self.label)

    def _workers_are_ours_and_local(self) -> bool:
        """Whether every worker is started by this executor on this machine, where a file
        in the run directory reaches it."""
        return False

    def _password_file(self) -> Optional[str]:
        raise NotImplementedError

    def _use_password_file(self, path: str) -> None:
        raise NotImplementedError

    def _make_password(self) -> None:
        """A per-run password for the manager, when the user gave none and the workers are
        ours and local: CCTools' manager otherwise takes any worker that reaches its port,
        and a worker gets the functions and sends back what the client unpickles."""
        if self._password_file() is not None or not self._workers_are_ours_and_local():
            return
        import secrets
        path = os.path.join(self.log_dir, 'worker_password')
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(secrets.token_hex(32))
        self._use_password_file(path)

    def start(self) -> None:
        os.makedirs(self.log_dir, exist_ok=True)
        self._make_password()
        self.function_data_dir = self._function_data_dir()
        os.makedirs(os.path.join(self.function_data_dir, 'functions'), exist_ok=True)
        settings = self._settings()
        settings.update(system=self.system, log_dir=self._manager_log_dir(), bin_dir=bin_dir(), python=sys.executable)
        read_end, write_end = os.pipe()
        log = open(os.path.join(self.log_dir, 'manager.log'), 'ab')
        try:
            self._proc = subprocess.Popen(
                [sys.executable, '-m', 'chervil.executors.cctools_manager', str(write_end)],
                stdin=subprocess.PIPE, stdout=log, stderr=log, pass_fds=(write_end,),
                cwd=self.log_dir, start_new_session=True)
        finally:
            os.close(write_end)
            log.close()
        self._to_manager = self._proc.stdin
        self._from_manager = os.fdopen(read_end, 'rb')
        write_message(self._to_manager, settings)
        first = read_message(self._from_manager)
        if first is None or first[0] != 'port':
            why = first[1] if first else "it exited before listening"
            self._stop_manager()
            raise ExecutorError(self, f"the {self.system} manager could not start: {why} "
                                      f"(its log: {os.path.join(self.log_dir, 'manager.log')})")
        self._port = first[1]
        logger.info("%s: %s manager listening on port %s", self.label, self.system, self._port)
        self._collector = threading.Thread(target=self._collect, daemon=True, name=f"{self.label}-collector")
        self._collector.start()
        self._worker_command = self._compose_worker_command()
        if self.provider is not None:
            self._start_blocks()

    def _function_data_dir(self) -> str:
        return os.path.join(self.log_dir, 'function_data')

    def _manager_log_dir(self) -> str:
        return self.log_dir

    def _compose_worker_command(self) -> str:
        return ''

    def _block_command(self, block_id: str) -> str:
        return f"PARSL_WORKER_BLOCK_ID={block_id} {self._worker_command}"

    def strategize(self, strategy, max_idletime) -> None:
        if self.provider is not None:  # factory and manual workers are not blocks
            super().strategize(strategy, max_idletime)

    # -- submit ------------------------------------------------------------------------

    def _function_file(self, func) -> str:
        """One file per distinct function, cached on each worker once it has fetched it."""
        payload = serialize(func, buffer_threshold=1 << 20)
        key = hashlib.sha256(payload).digest()
        path = self._functions.get(key)
        if path is None:
            # Written aside and renamed: tries are submitted from several threads, and the
            # manager may read the file for one while another writes it.
            path = os.path.join(self.function_data_dir, 'functions', key.hex()[:32])
            aside = f"{path}.{threading.get_ident()}"
            with open(aside, 'wb') as f:
                f.write(payload)
            os.replace(aside, path)
            self._functions[key] = path
        return path

    def submit(self, func, resource_specification, *args, **kwargs) -> cf.Future:
        self._check_bad_state()
        if self._proc is None or self._proc.poll() is not None:
            raise ExecutorError(self, f"the {self.system} manager process is not running")
        spec = dict(resource_specification or {})
        task = self._resources(spec, func)
        cache = self._cache_inputs()
        inputs: List[Tuple[str, bool, bool]] = []
        outputs: List[Tuple[str, bool, bool]] = []
        inputs += [staged(f, cache) for f in kwargs.get('inputs', []) if isinstance(f, File)]
        outputs += [staged(f, cache) for f in kwargs.get('outputs', []) if isinstance(f, File)]
        inputs += [staged(f, cache) for f in args if isinstance(f, File)]
        for key, value in kwargs.items():
            if key in ('stdout', 'stderr'):
                if value:
                    outputs.append(std_stream(key, value))
            elif isinstance(value, File):
                inputs.append(staged(value, cache))
        shared = self._shared_fs()
        mapping = {name: (os.path.abspath(name) if shared else name) for name, _, _ in inputs + outputs}

        with self._tasks_lock:
            task_id = self._ids
            self._ids += 1
        task_dir = os.path.join(self.function_data_dir, f"{task_id:04d}")
        os.mkdir(task_dir)
        argument, map_file, result = (os.path.join(task_dir, n) for n in ('argument', 'map', 'result'))
        with open(argument, 'wb') as f:
            f.write(serialize({'args': args, 'kwargs': kwargs, 'sample': self._sample_resources()},
                              buffer_threshold=1 << 20))
        with open(map_file, 'wb') as f:
            f.write(serialize(mapping))
        files = {
            'inputs': [(cctools_task.__file__, 'cctools_task.py', True), (self._function_file(func), 'function', True),
                       (argument, 'argument', False), (map_file, 'map', False)],
            'outputs': [(result, 'result', False)],
        }
        if not shared:
            # The manager runs elsewhere (its own cwd): the local side is absolute.
            files['inputs'] += [(os.path.abspath(n), n, c) for n, stage, c in inputs if stage]
            files['outputs'] += [(os.path.abspath(n), n, c) for n, stage, c in outputs if stage]
        exec_mode = task.pop('exec_mode', 'regular')
        task.update(id=task_id, exec_mode=exec_mode, command=self._command(exec_mode), files=files,
                    result_file=result)

        fut = cf.Future()
        fut.parsl_executor_task_id = task_id
        fut.resource_specification = spec
        fut._chervil_slots = self._slots(spec)
        with self._tasks_lock:
            self._tasks[task_id] = fut
            self._outstanding_slots += fut._chervil_slots
        try:
            with self._send_lock:
                write_message(self._to_manager, ('task', task))
        except (OSError, ValueError) as e:
            self._forget(task_id)
            raise ExecutorError(self, f"the {self.system} manager process is gone: {e}") from e
        return fut

    def _forget(self, task_id: int) -> Optional[cf.Future]:
        with self._tasks_lock:
            fut = self._tasks.pop(task_id, None)
            if fut is not None:
                self._outstanding_slots -= fut._chervil_slots
        return fut

    def _sample_resources(self) -> bool:
        return self.monitor is not None and self.resource_monitoring_interval > 0

    def monitor_resources(self) -> bool:
        return True

    # -- results -----------------------------------------------------------------------

    def _collect(self) -> None:
        """Completes futures from the manager's batches until it stops."""
        why = f"the {self.system} manager process exited"
        try:
            while True:
                message = read_message(self._from_manager)
                if message is None:
                    break
                if message[0] == 'fatal':
                    why = f"the {self.system} manager failed: {message[1]}"
                    break
                for task_id, received, reason, status in message[1]:
                    self._complete(task_id, received, reason, status)
        except Exception as e:  # a broken message: nothing more can be trusted from it
            why = f"the {self.system} manager sent what could not be read: {e!r}"
            logger.exception("%s: collector stopped", self.label)
        if not self._stopping:
            logger.error("%s: %s", self.label, why)
            self.set_bad_state_and_fail_all(ExecutorError(self, why))

    def _complete(self, task_id: int, received: bool, reason: Optional[str], status: Optional[int]) -> None:
        fut = self._forget(task_id)
        if fut is None:
            return
        failure = self._task_failure
        if not received:
            fut.set_exception(failure(reason or "no result", status))
            return
        result_file = os.path.join(self.function_data_dir, f"{task_id:04d}", 'result')
        try:
            with open(result_file, 'rb') as f:
                outcome = deserialize(f.read())
        except Exception as e:
            ex = failure('Cannot load result from result file', None)
            ex.__cause__ = e
            fut.set_exception(ex)
            return
        block = outcome.get('block')
        fut.chervil_ran = (outcome.get('host'), block, outcome.get('started'), outcome.get('ended'))
        if outcome.get('sample') is not None:
            fut.chervil_sample = (self.resource_monitoring_interval, outcome['sample'])
        shutil.rmtree(os.path.dirname(result_file), ignore_errors=True)
        fut.set_result(outcome['result'])  # a RemoteExceptionWrapper is re-raised by the DataFlowKernel

    def _task_failure(self, reason: str, status):
        raise NotImplementedError

    def _fail_all(self, error: BaseException) -> None:
        with self._tasks_lock:
            tasks, self._tasks = self._tasks, {}
            self._outstanding_slots = 0.0
        for fut in tasks.values():
            if not fut.done():
                fut.set_exception(error)

    # -- scaling and shutdown ------------------------------------------------------------

    @property
    def worker_command(self) -> str:
        """What a block runs to give the manager a worker (known once it listens); start
        workers by hand with it too."""
        return self._worker_command

    def outstanding(self) -> int:
        slots = self._outstanding_slots
        return int(slots) if slots == int(slots) else int(slots) + 1

    def _stop_manager(self) -> None:
        proc = self._proc
        if proc is None:
            return
        try:
            with self._send_lock:
                write_message(self._to_manager, ('stop',))
                self._to_manager.close()
        except (OSError, ValueError):
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            logger.warning("%s: the %s manager did not stop in 15 s; killing it", self.label, self.system)
            proc.kill()
            proc.wait()

    def shutdown(self, block: bool = True) -> None:
        if self._stopping:
            return
        self._stopping = True
        self._stop_manager()
        if self._collector is not None:
            self._collector.join(timeout=15)
        if self.provider is not None:
            self._cancel_blocks_at_shutdown()
        self._fail_all(self._manager_failure(f"{self.label} was shut down before the task finished"))

    def _manager_failure(self, reason: str) -> BaseException:
        return ExecutorError(self, reason)


def worker_command(executable: str, default: str, password_file: Optional[str], options: Optional[str],
                   address: str, port: int) -> str:
    """The command that starts one worker of this manager.

    By address and port even with a project name (Parsl then passes ``-M name`` and lets
    the CCTools catalog find the manager): the executor knows where its manager listens,
    and the catalog may be out of reach (an offline cluster). The name still labels the
    manager in the catalog for those who can see it."""
    command = program(executable) if executable == default else executable
    if password_file:
        command += f' --password {password_file}'
    if options:
        command += f' {options}'
    return command + f' {address} {port}'


def python_command(script_args: str) -> str:
    """Runs the task script with this interpreter where the worker has it (a local or
    shared-file-system worker), else with ``python3`` from the worker's PATH (Parsl's)."""
    here = shlex.quote(sys.executable)
    return (f'if [ -x {here} ]; then chervil_python={here}; else chervil_python=python3; fi; '
            f'"$chervil_python" cctools_task.py {script_args}')


def check_resource_keys(spec: Dict[str, Any], accepted, executor: str) -> None:
    unknown = set(spec) - set(accepted)
    if unknown:
        raise InvalidResourceSpecification(
            unknown, f"the {executor} accepts only these resource keys: {', '.join(sorted(accepted))}")
