"""The Work Queue or TaskVine manager of one executor, in a process of its own.

CCTools' Python bindings hold the GIL while the manager waits for workers, so the manager
cannot share the client's interpreter (Parsl runs it in a process too). This module is
that process: ``python -m chervil.executors.cctools_manager RESULT_FD``. It reads
length-prefixed pickled messages on stdin — first the settings, then ``('task', spec)``
and ``('stop',)`` — and writes to the file descriptor ``RESULT_FD``: ``('port', n)``
once listening, then ``('done', [outcome, ...])`` batches, or ``('fatal', message)``.

Started with ``python -m`` rather than ``multiprocessing``, so the user's script is not
imported again in the child. Its stdout and stderr go to the executor's log directory.
"""
import os
import pickle
import queue
import shlex
import sys
import threading
import time
from typing import Any, Dict, List, Optional

from chervil.executors.cctools_wire import read_message, write_message


#: What ``result`` codes mean, in the words of Parsl's messages.
_RESULTS = {
    'OUTPUT_MISSING': "The result file was not transfered from the worker.\nThis usually means that there "
                      "is a problem with the python setup,\nor the wrapper that executes the function.",
    'INPUT_MISSING': "missing input file",
    'STDOUT_MISSING': "stdout has been truncated",
    'SIGNAL': "task terminated with a signal",
    'RESOURCE_EXHAUSTION': "task used more resources than requested",
    'TASK_TIMEOUT': "task ran past the specified end time",
    'UNKNOWN': "result could not be classified",
    'FORSAKEN': "task failed, but not a task error",
    'MAX_RETRIES': "unable to complete after specified number of retries",
    'TASK_MAX_RUN_TIME': "task ran for more than the specified time",
    'MAX_WALL_TIME': "task ran for more than the specified time",
    'DISK_ALLOC_FULL': "task needed more space to complete task",
    'RMONITOR_ERROR': "task failed because the monitor did not produce an output",
    'OUTPUT_TRANSFER_ERROR': "task failed because output transfer fails",
    'FIXED_LOCATION_MISSING': "task failed because no worker could satisfy the fixed location input file requirements",
    'CANCELLED': "task was cancelled",
    'LIBRARY_EXIT': "task failed because the library it runs in exited",
    'SANDBOX_EXHAUSTION': "task failed because its sandbox ran out of disk",
    'MISSING_LIBRARY': "task failed because the serverless library it needs is missing",
    'WORKER_DISCONNECTED': "task failed because its worker disconnected",
}


def explain(system: str, module, task) -> str:
    """Why a task came back without a result file, as Parsl says it."""
    code = task.result
    for name, why in _RESULTS.items():
        if getattr(module, f'{system}_RESULT_{name}', None) == code:
            if name == 'OUTPUT_MISSING':
                why += "\nTrace:\n" + str(getattr(task, 'output', None) or getattr(task, 'std_output', ''))
            return f"{system.lower().replace('_', ' ')} result: {why}"
    status = getattr(task, 'exit_code', None)
    if status is None:
        status = getattr(task, 'return_status', None)
    return f"{system.lower().replace('_', ' ')} result: succesful execution with exit code {status}"


class _WorkQueue:
    """Work Queue's calls (``specify_*``).

    Its wait polls the workers before it dispatches, for up to a second when its last
    round saw nothing, and a wait(0) is such a round: so finished tasks are taken one
    wait at a time, and a wait that follows a submission is nudged (see ``Waiter``)."""

    system = 'WORK_QUEUE'
    drain_without_waiting = False
    nudge_after_submit = True

    def __init__(self, s: Dict[str, Any]) -> None:
        from ndcctools import work_queue as wq
        self.wq = wq
        self.m = wq.WorkQueue(s['port'], debug_log=os.path.join(s['log_dir'], 'debug_log'))
        self.port = self.m.port
        if s['project_name']:
            self.m.specify_name(s['project_name'])
        if s['project_password_file']:
            self.m.specify_password_file(s['project_password_file'])
        if s['autolabel']:
            self.m.enable_monitoring()
            if s['autolabel_window'] is not None:
                self.m.tune('category-steady-n-tasks', s['autolabel_window'])
        self.m.specify_log(os.path.join(s['log_dir'], 'master_log'))
        self.m.specify_transactions_log(os.path.join(s['log_dir'], 'transaction_log'))
        self.s = s

    def task(self, spec: Dict[str, Any], files):
        t = self.wq.Task(spec['command'])
        t.specify_category(spec['category'])
        if self.s['autolabel']:
            self.m.specify_category_mode(spec['category'], self.wq.WORK_QUEUE_ALLOCATION_MODE_MAX_THROUGHPUT)
        for key, call in (('cores', t.specify_cores), ('memory', t.specify_memory), ('disk', t.specify_disk),
                          ('gpus', t.specify_gpus), ('priority', t.specify_priority),
                          ('running_time_min', t.specify_running_time_min)):
            if spec.get(key) is not None:
                call(spec[key])
        if self.s['max_retries'] is not None:
            t.specify_max_retries(self.s['max_retries'])
        for name, value in (self.s['env'] or {}).items():
            t.specify_environment_variable(str(name), str(value))
        for local, remote, cache in files['inputs']:
            t.specify_input_file(local, remote, cache=cache)
        for local, remote, cache in files['outputs']:
            t.specify_output_file(local, remote, cache=cache)
        t.specify_tag(str(spec['id']))
        return t

    def exit_code(self, t) -> int:
        return t.return_status

    def waiter(self) -> "Waiter":
        from ndcctools import _cwork_queue
        return Waiter(_cwork_queue.__file__, 'work_queue_wait', 'work_queue_enable_process_module',
                      _address(self.m._work_queue))


class _TaskVine:
    """TaskVine's calls (``set_*``, declared files), serverless libraries and the factory."""

    system = 'VINE'
    drain_without_waiting = True  # its wait(0) only hands over tasks already retrieved
    nudge_after_submit = False

    def __init__(self, s: Dict[str, Any]) -> None:
        from ndcctools import taskvine as vine
        from ndcctools.taskvine import cvine
        self.vine, self.cvine = vine, cvine
        self.m = vine.Manager(port=s['port'], name=s['project_name'], run_info_path=s['log_dir'])
        self.port = self.m.port
        if s['project_password_file']:
            self.m.set_password_file(s['project_password_file'])
        if s['autolabel']:
            self.m.enable_monitoring()
            if s['autolabel_window'] is not None:
                self.m.tune('category-steady-n-tasks', s['autolabel_window'])
        if s['wait_for_workers']:
            self.m.tune('wait-for-workers', s['wait_for_workers'])
        if s['enable_peer_transfers']:
            self.m.enable_peer_transfers()
        else:
            self.m.disable_peer_transfers()
        if self.m.name:
            self.m.set_property('framework', 'parsl')
        for name, value in (s['tune_parameters'] or {}).items():
            self.m.tune(name, value)
        self.s = s
        self.declared: Dict[str, Any] = {}
        self.library = None
        self.factory = None

    def start_factory(self, f: Dict[str, Any]) -> None:
        """vine_factory keeps between min and max workers connected (the 'factory' method)."""
        # By address and port even with a project name: see the executor's worker command.
        where = {'manager_host_port': f"{self.s['address']}:{self.port}"}
        worker = f['worker_executable']
        os.makedirs(f['scratch_dir'], exist_ok=True)
        factory = self.vine.Factory(batch_type=f['batch_type'], worker_binary=worker if os.path.isabs(worker) else None,
                                    log_file=os.path.join(f['scratch_dir'], 'factory.log'), **where)
        if self.s['project_password_file']:
            factory.password = self.s['project_password_file']
        factory.factory_timeout = f['factory_timeout']
        factory.scratch_dir = f['scratch_dir']
        factory.min_workers = f['min_workers']
        factory.max_workers = f['max_workers']
        factory.workers_per_cycle = f['workers_per_cycle']
        if f['worker_options']:
            factory.extra_options = f['worker_options']
        factory.timeout = f['worker_timeout']
        for key in ('cores', 'gpus', 'memory', 'disk', 'python_env', 'condor_requirements', 'batch_options'):
            if f[key]:
                setattr(factory, key, f[key])
        factory.start()
        self.factory = factory

    def _file(self, path: str, cache: bool, peer: bool):
        f = self.declared.get(path)
        if f is None:
            f = self.m.declare_file(path, cache=cache, peer_transfer=peer)
            if cache:
                self.declared[path] = f
        return f

    def _install_library(self) -> None:
        from chervil.executors import cctools_task
        if not self.s['shared_fs'] and self.s['env_pack'] is None:
            raise RuntimeError("serverless mode without a shared file system needs manager_config.env_pack "
                               "(a poncho/conda environment tarball the library runs in), or shared_fs=True")
        # The library runs `python library_code.py` from the worker's PATH; where the worker
        # has the client's interpreter (local or shared file system), `python` is that one.
        exe = shlex.quote(self.s['python'])
        prelude = f'if [ -x {exe} ]; then python() {{ {exe} "$@"; }}; fi;'
        lib = self.m.create_library_from_functions('common-parsl-taskvine-lib', cctools_task.run_task,
                                                   poncho_env=self.s['env_pack'] or '',
                                                   init_command=f"{prelude} {self.s['init_command']}".rstrip(),
                                                   add_env=False)
        config = self.s['library_config'] or {}
        for key, call in (('cores', lib.set_cores), ('memory', lib.set_memory), ('disk', lib.set_disk),
                          ('num_slots', lib.set_function_slots)):
            if config.get(key):
                call(config[key])
        if self.s['env_pack']:
            lib.add_environment(self.m.declare_poncho(self.s['env_pack'], cache=True, peer_transfer=True))
        self.m.install_library(lib)
        self.library = lib

    def task(self, spec: Dict[str, Any], files):
        if spec['exec_mode'] == 'serverless':
            if self.library is None:
                self._install_library()
            t = self.vine.FunctionCall('common-parsl-taskvine-lib', 'run_task', 'map', 'function', 'argument', 'result')
        else:
            t = self.vine.Task(spec['command'])
            if not self.s['shared_fs'] and self.s['env_pack'] is not None:
                env = self.declared.get(('poncho', self.s['env_pack']))
                if env is None:
                    env = self.declared[('poncho', self.s['env_pack'])] = self.m.declare_poncho(
                        self.s['env_pack'], cache=True, peer_transfer=True)
                t.add_environment(env)
        t.set_category(spec['category'])
        if self.s['autolabel']:
            mode = {'max-xput': self.cvine.VINE_ALLOCATION_MODE_MAX_THROUGHPUT,
                    'bucketing': self.cvine.VINE_ALLOCATION_MODE_EXHAUSTIVE_BUCKETING,
                    'max': self.cvine.VINE_ALLOCATION_MODE_MAX}[self.s['autolabel_algorithm']]
            self.m.set_category_mode(spec['category'], mode)
        for key, call in (('cores', t.set_cores), ('memory', t.set_memory), ('disk', t.set_disk),
                          ('gpus', t.set_gpus), ('priority', t.set_priority),
                          ('running_time_min', t.set_time_min)):
            if spec.get(key) is not None:
                call(spec[key])
        if self.s['max_retries'] is not None:
            t.set_retries(self.s['max_retries'])
        for name, value in (self.s['env'] or {}).items():
            t.set_env_var(str(name), str(value))
        for local, remote, cache in files['inputs']:
            t.add_input(self._file(local, cache, cache), remote)
        for local, remote, cache in files['outputs']:
            t.add_output(self._file(local, cache, cache), remote)
        return t

    def exit_code(self, t) -> int:
        return t.exit_code

    def waiter(self) -> "Waiter":
        from ndcctools.taskvine import _cvine
        return Waiter(_cvine.__file__, 'vine_wait', 'vine_manager_enable_process_shortcut', _address(self.m._taskvine))

    def close(self) -> None:
        if self.factory is not None:
            # Told by the manager, workers leave at once; the factory's SIGTERM takes seconds.
            self.m.workers_shutdown(0)
            self.factory.stop()


def _address(swig_object) -> int:
    """The C pointer behind a SWIG object (opaque pointers convert directly, proxies hold it
    in ``.this``)."""
    try:
        return int(swig_object)
    except TypeError:
        return int(swig_object.this)


def _nothing(signum, frame) -> None:
    pass


def quiet_thread() -> None:
    """Keeps SIGCHLD off the calling thread, so the kernel gives it to the main thread,
    whose poll() in the manager it must interrupt."""
    import signal
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})


class Waiter:
    """Waits in the C manager with the GIL released, and can be woken by a new message.

    Through the bindings, ``wait`` holds the GIL for up to its timeout (whole seconds), so
    a task sent meanwhile would sit in the inbox until another task finished — a second or
    two. Called through ctypes the GIL is free, and the manager's "process shortcut" ends
    a wait as soon as a child process of the manager exits: :meth:`wake` starts
    ``/bin/true``, whose SIGCHLD also cuts short the manager's poll() (there is a handler).
    """

    def __init__(self, library_path: str, wait: str, shortcut: str, manager_address: int) -> None:
        import ctypes
        import signal
        lib = ctypes.CDLL(library_path)  # the module the bindings loaded: the same manager
        self._wait = getattr(lib, wait)
        self._wait.restype = ctypes.c_void_p
        self._wait.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._reap = lib.process_wait  # the shortcut keeps exited children in a list: emptied here
        self._reap.restype = ctypes.c_void_p
        self._reap.argtypes = [ctypes.c_int]
        self._free = ctypes.CDLL(None).free
        self._free.argtypes = [ctypes.c_void_p]
        getattr(lib, shortcut)(ctypes.c_void_p(manager_address))
        self._manager = ctypes.c_void_p(manager_address)
        signal.signal(signal.SIGCHLD, _nothing)
        self._lock = threading.Lock()
        self._waiting = False
        self._woken = False

    def wait(self, seconds: int, nudge: bool = False) -> Optional[int]:
        """The address of a finished task, or None. ``nudge``: wake the wait a moment after
        it starts, so a manager that polls before it dispatches gets to the new task."""
        with self._lock:
            self._waiting, self._woken = True, False
        if nudge:
            threading.Thread(target=self._nudge, daemon=True, name='cctools-nudge').start()
        try:
            return self._wait(self._manager, seconds)
        finally:
            with self._lock:
                self._waiting = False
            while True:
                reaped = self._reap(0)
                if not reaped:
                    break
                self._free(reaped)

    def _nudge(self) -> None:
        quiet_thread()
        time.sleep(0.002)  # by then the manager is in its poll
        self.wake()

    def wake(self) -> None:
        """Ends the current wait soon (once per wait; a no-op outside one)."""
        with self._lock:
            if not self._waiting or self._woken:
                return
            self._woken = True
        try:
            os.posix_spawn('/bin/true', ['true'], {})
        except OSError:
            pass  # the wait then ends at its timeout


class Doorbell:
    """What the inbox reader rings when a message arrives: the waiter, once there is one."""
    waiter: Optional[Waiter] = None


def serve(settings: Dict[str, Any], inbox: "queue.Queue", out, doorbell: "Doorbell") -> None:
    """The manager loop: submit what arrives, report what finishes, until told to stop."""
    # The bindings pin TCP_LOW_PORT/TCP_HIGH_PORT to the manager's port in os.environ; the
    # factory's workers would inherit them and try to serve transfers on that same port.
    saved = {k: os.environ.get(k) for k in ('TCP_LOW_PORT', 'TCP_HIGH_PORT')}
    manager = (_WorkQueue if settings['system'] == 'workqueue' else _TaskVine)(settings)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    waiter = manager.waiter()
    doorbell.waiter = waiter
    write_message(out, ('port', manager.port))
    if settings.get('factory'):
        manager.start_factory(settings['factory'])
    module = manager.wq if settings['system'] == 'workqueue' else manager.cvine
    running: Dict[int, tuple] = {}  # the C task's address -> (its Python task, our spec)
    stopping = False
    submitted = False
    carried: Any = None  # a message taken while waiting on the inbox, handled next round
    try:
        while not stopping:
            # Take what came; the manager's own wait below (GIL free, woken by a message)
            # is where new work is noticed, so the manager also serves workers that connect,
            # heartbeats and status queries while it has no task.
            if carried is not None:
                message, carried = carried, None
            else:
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    message = False
            while message is not False:
                if message is None or message[0] == 'stop':
                    stopping = True
                    break
                spec = message[1]
                try:
                    task = manager.task(spec, spec['files'])
                    manager.m.submit(task)
                    running[_address(task._task)] = (task, spec)
                    submitted = True
                except Exception as e:
                    write_message(out, ('done', [(spec['id'], False, f"task could not be submitted to "
                                                  f"{settings['system']}: {e}", -1)]))
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    message = False
            if stopping:
                continue
            done: List[tuple] = []
            started = time.monotonic()
            address = waiter.wait(1, nudge=submitted and manager.nudge_after_submit)
            submitted = False
            if not running and not address and time.monotonic() - started < 0.05:
                # An empty manager may return at once: wait for work on the inbox instead.
                try:
                    carried = inbox.get(timeout=0.5)
                except queue.Empty:
                    pass
            while address:
                task, spec = running.pop(address, (None, None))
                if task is not None:
                    manager.m._task_table.pop(task.id, None)
                    if os.path.exists(spec['result_file']):
                        done.append((spec['id'], True, None, manager.exit_code(task)))
                    else:
                        done.append((spec['id'], False, explain(manager.system, module, task),
                                     manager.exit_code(task)))
                address = waiter.wait(0) if manager.drain_without_waiting and len(done) < 256 else None
            if done:
                write_message(out, ('done', done))
    finally:
        close = getattr(manager, 'close', None)
        if close is not None:
            close()


def main() -> None:
    out = os.fdopen(int(sys.argv[1]), 'wb')
    inp = sys.stdin.buffer
    settings = read_message(inp)
    if settings is None:
        return
    if settings.get('bin_dir'):
        os.environ['PATH'] = settings['bin_dir'] + os.pathsep + os.environ.get('PATH', '')
    inbox: "queue.Queue" = queue.Queue()
    doorbell = Doorbell()

    def read_all() -> None:
        quiet_thread()
        while True:
            message = read_message(inp)
            inbox.put(message)
            if doorbell.waiter is not None:
                doorbell.waiter.wake()
            if message is None or message[0] == 'stop':
                return

    threading.Thread(target=read_all, daemon=True, name='cctools-inbox').start()
    try:
        serve(settings, inbox, out, doorbell)
    except BaseException as e:
        import traceback
        traceback.print_exc()
        try:
            write_message(out, ('fatal', f"{type(e).__name__}: {e}"))
        except OSError:
            pass
        raise SystemExit(1)


if __name__ == '__main__':
    main()
