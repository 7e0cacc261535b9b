"""The HighThroughputExecutor (``parsl.executors.HighThroughputExecutor``).

The interchange runs inside this process, in Rust (``chervil._core.Interchange``):
it listens for worker pools, keeps the queue and hands tasks to pools by free
capacity. Pools are started by the provider's blocks (``python -m chervil.pool``)
and must prove the run's secret before they get any task. This module only turns
calls into bytes, bytes back into results, and keeps the blocks.
"""
import functools
import itertools
import logging
import os
import secrets
import shlex
import sys
import threading
import concurrent.futures as cf
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import typeguard

from chervil import _core, redaction
from chervil.addresses import get_all_addresses
from chervil.dataflow import lean_future
from chervil.dataflow.lean_future import LeanFuture
from chervil.errors import ConfigurationError
from chervil.executors.errors import BadStateException, InvalidResourceSpecification
from chervil.executors.status_handling import BlockProviderExecutor
from chervil.executors.high_throughput.errors import ManagerLost, WorkerLost
from chervil.executors.high_throughput.interchange_log import InterchangeLog
from chervil.jobs.states import JobState, JobStatus
from chervil.log_utils import DEFAULT_FORMAT, POOL_LOG_FORMAT_ENV, run_log_format
from chervil.providers.base import ExecutionProvider
from chervil.providers.cluster_provider import ClusterProvider
from chervil.providers.local.local import LocalProvider
from chervil import compat
from chervil.app.errors import RemoteExceptionWrapper
from chervil.serialize import DeserializationError, FunctionCache, loads, pack_call

logger = logging.getLogger(__name__)

_OK, _ERR, _WORKER_LOST, _POOL_LOST, _REFUSED = (_core.RESULT_OK, _core.RESULT_ERR, _core.WORKER_LOST, _core.POOL_LOST,
                                                 _core.REFUSED)

#: What each block runs (once per node); ``{block_id}`` is filled per block, the
#: other placeholders (``HighThroughputExecutor._launch_fields``) at start.
DEFAULT_LAUNCH_CMD = ("{python} -m chervil.pool {debug} {max_workers_per_node} --addresses={addresses} "
                      "--port={worker_port} -c {cores_per_worker} {mem_per_worker} --logdir={logdir} "
                      "--block-id={{block_id}} --hb-period={heartbeat_period} --hb-threshold={heartbeat_threshold} "
                      "{drain_period} --cpu-affinity={cpu_affinity} {accelerators} "
                      "--connect-timeout={address_probe_timeout} {resource_interval} {mpi}")


#: The largest pickled call kept for the engine to launch (``HighThroughputExecutor.splice``).
SPLICE_MAX_CALL = 1 << 20


def _check_launch_cmd(template: str, fields: Dict[str, Any]) -> None:
    try:
        _fill_block_id(template.format(**fields), '')
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigurationError(
            f"HighThroughputExecutor(launch_cmd={template!r}): {type(e).__name__} {e}; the placeholders are "
            f"{', '.join(fields)} and {{{{block_id}}}} (doubled braces: it is filled per block)") from None


def _fill_block_id(command: str, block_id: str) -> str:
    """The launch command of one block. Only ``{block_id}`` is filled: the command holds
    paths (the log directory, PYTHONPATH), and a path may contain braces — formatting it
    as a template broke every block of a run started in a directory named ``{x}``."""
    return command.replace('{block_id}', block_id)


def _is_loopback(address: str) -> bool:
    import ipaddress
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _positive(owner: str, name: str, value, allow_none: bool = False, integer: bool = False) -> None:
    if value is None and allow_none:
        return
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        what = "a whole number" if integer else "a number"
        raise ConfigurationError(f"{owner}({name}={value!r}): give {what} greater than 0"
                                 + (" (or None)" if allow_none else ""))


class HTEXFuture(LeanFuture):
    """What ``HighThroughputExecutor.submit`` returns: a Future that knows its task's id
    in the executor (``parsl_executor_task_id``)."""

    def __init__(self, task_id) -> None:
        super().__init__()
        self.parsl_executor_task_id = task_id


class HighThroughputExecutor(BlockProviderExecutor):
    """Runs tasks on pools of worker processes, one pool per node of each block.

    The parameters are Parsl's. ``encrypted`` (TLS between the interchange and pools)
    is on by default and applies whenever the interchange listens beyond loopback;
    ``manager_selector`` (``RandomManagerSelector()``, ``BlockIdManagerSelector()``) orders
    the pools in the engine's dispatch core; ``poll_period`` is accepted for
    compatibility and has nothing to tune here.
    """

    # MPI mode (Parsl's): set by MPIExecutor; the pool shares its block's nodes among MPI tasks.
    enable_mpi_mode: bool = False
    mpi_launcher: str = 'mpiexec'

    # Arguments of the wrong type are typeguard's TypeCheckError naming the argument, as in
    # Parsl; values of the right type that cannot work are ConfigurationErrors.
    @typeguard.typechecked
    def __init__(self,
                 label: str = 'HighThroughputExecutor',
                 provider: Optional[ExecutionProvider] = None,
                 launch_cmd: Optional[str] = None,
                 interchange_launch_cmd: Optional[Sequence[str]] = None,
                 address: Optional[str] = None,
                 loopback_address: str = '127.0.0.1',
                 worker_ports: Optional[Tuple[int, int]] = None,
                 worker_port: Optional[int] = None,
                 worker_port_range: Optional[Tuple[int, int]] = (54000, 55000),
                 interchange_port_range: Optional[Tuple[int, int]] = (55000, 56000),
                 storage_access: Optional[List[Any]] = None,
                 working_dir: Optional[str] = None,
                 worker_debug: bool = False,
                 cores_per_worker: float = 1.0,
                 mem_per_worker: Optional[float] = None,
                 max_workers_per_node: Optional[int] = None,
                 cpu_affinity: str = 'none',
                 available_accelerators: Union[int, Sequence[str]] = (),
                 prefetch_capacity: int = 0,
                 heartbeat_threshold: float = 120,  # Parsl: int; fractions are fine here
                 heartbeat_period: float = 30,
                 drain_period: Optional[int] = None,
                 poll_period: int = 10,
                 address_probe_timeout: Optional[int] = None,
                 worker_logdir_root: Optional[str] = None,
                 manager_selector=None,
                 block_error_handler: Union[bool, Callable] = True,
                 encrypted: bool = True,
                 remote_monitoring_radio=None,
                 max_workers: Optional[int] = None) -> None:
        super().__init__(provider=provider if provider is not None else LocalProvider(),
                         block_error_handler=block_error_handler)
        owner = 'HighThroughputExecutor'
        if not isinstance(label, str) or not label:
            raise ConfigurationError(f"{owner} label must be a non-empty string, not {label!r}")
        if '/' in label or '\0' in label or label in ('.', '..'):
            raise ConfigurationError(f"{owner}(label={label!r}): the label names the executor's directory in the run "
                                     "directory and its blocks' files; give a name without '/' (e.g. "
                                     f"{label.replace('/', '_').strip('.') or 'htex'!r})")
        if max_workers is not None:  # Parsl's old name
            max_workers_per_node = max_workers_per_node or max_workers
        _positive(owner, 'cores_per_worker', cores_per_worker)
        _positive(owner, 'mem_per_worker', mem_per_worker, allow_none=True)
        _positive(owner, 'max_workers_per_node', max_workers_per_node, allow_none=True, integer=True)
        _positive(owner, 'heartbeat_period', heartbeat_period)
        _positive(owner, 'heartbeat_threshold', heartbeat_threshold)
        _positive(owner, 'drain_period', drain_period, allow_none=True)
        if heartbeat_threshold <= heartbeat_period:
            raise ConfigurationError(
                f"{owner}(heartbeat_threshold={heartbeat_threshold}, heartbeat_period={heartbeat_period}): the "
                "threshold must be longer than the period, or every pool would be declared lost between heartbeats")
        if isinstance(prefetch_capacity, bool) or not isinstance(prefetch_capacity, int) or prefetch_capacity < 0:
            raise ConfigurationError(f"{owner}(prefetch_capacity={prefetch_capacity!r}): give a whole number, 0 or more")
        try:
            _core.check_cpu_affinity(cpu_affinity)
        except ValueError as e:
            raise ConfigurationError(f"{owner}(cpu_affinity={cpu_affinity!r}): {e}") from None
        if isinstance(available_accelerators, int):
            available_accelerators = [str(i) for i in range(available_accelerators)]
        if worker_port is not None and worker_ports is not None:
            raise ConfigurationError(f"{owner}: give worker_port or worker_ports, not both")
        if worker_port is not None and (isinstance(worker_port, bool) or not isinstance(worker_port, int)
                                        or not 0 < worker_port < 65536):
            raise ConfigurationError(f"{owner}(worker_port={worker_port!r}): give a port between 1 and 65535, or "
                                     "leave it out to use worker_port_range")
        for name, rng in (('worker_ports', worker_ports), ('worker_port_range', worker_port_range),
                          ('interchange_port_range', interchange_port_range)):
            if rng is not None and not (isinstance(rng, (tuple, list)) and len(rng) == 2
                                        and all(isinstance(p, int) and not isinstance(p, bool) for p in rng)
                                        and 0 < rng[0] <= rng[1] < 65536):
                raise ConfigurationError(f"{owner}({name}={rng!r}): give (lowest, highest) ports between 1 and 65535")
        self.label = label
        self.launch_cmd = launch_cmd
        self.interchange_launch_cmd = interchange_launch_cmd
        self.address = address
        self.loopback_address = loopback_address
        self.worker_port = worker_port if worker_port is not None else (worker_ports[0] if worker_ports else None)
        self.worker_port_range = worker_port_range
        self.interchange_port_range = interchange_port_range
        self.storage_access = storage_access
        self.working_dir = working_dir
        self.worker_debug = worker_debug
        self.cores_per_worker = cores_per_worker
        self.mem_per_worker = mem_per_worker
        self.max_workers_per_node = max_workers_per_node
        self.cpu_affinity = cpu_affinity
        self.available_accelerators = [str(a) for a in available_accelerators]
        self.prefetch_capacity = prefetch_capacity
        self.heartbeat_threshold = heartbeat_threshold
        self.heartbeat_period = heartbeat_period
        self.drain_period = drain_period
        self.poll_period = poll_period
        self.address_probe_timeout = address_probe_timeout
        self.worker_logdir_root = worker_logdir_root
        self.manager_selector = manager_selector
        self._selector_order = _engine_order(manager_selector)
        self.encrypted = encrypted
        if remote_monitoring_radio is None:  # Parsl's default for HTEX (what Chervil does anyway)
            from chervil.monitoring.radios.htex import HTEXRadio
            remote_monitoring_radio = HTEXRadio()
        self.remote_monitoring_radio = remote_monitoring_radio

        self._task_ids = itertools.count(1)  # as Parsl's HTEX numbers its tasks
        # The DataFlowKernel's, once attached (attach_kernel): a submit_to with this
        # callback is a kernel's try, whose success the engine reports to the kernel.
        self._kernel_on_done: Optional[Callable[..., None]] = None
        self._kernel_succeeded: Optional[Callable[[list, list], None]] = None
        self._functions = FunctionCache()
        self._registered: set = set()
        self._ix = None
        self._ix_log: Optional[InterchangeLog] = None
        self._stopping = threading.Event()
        self._threads: List[threading.Thread] = []
        self._token_hex = ''
        self._launch_template = ''
        if launch_cmd is not None:
            _check_launch_cmd(launch_cmd, self._launch_fields('', 0))

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def _local(self) -> bool:
        return isinstance(self.provider, LocalProvider) and self.address is None

    def start(self) -> None:
        token = secrets.token_bytes(32)
        self._token_hex = token.hex()
        redaction.register(self._token_hex)
        bind = self.loopback_address if self._local else '0.0.0.0'
        if self.worker_port is not None:
            lo = hi = self.worker_port
        else:
            lo, hi = self.worker_port_range or (54000, 55000)
        # TLS on any link that can leave the machine; on loopback only local processes
        # could listen, and they can read the run's files anyway.
        tls = self.encrypted and not _is_loopback(bind)
        self._ix = _core.Interchange(bind, lo, hi, token, prefetch_capacity=self.prefetch_capacity,
                                     heartbeat_period=float(self.heartbeat_period),
                                     heartbeat_threshold=float(self.heartbeat_threshold), tls=tls,
                                     selector=self._selector_order, local_socket=self._local)
        if self.monitor is not None and self.remote_monitoring_radio is not None:
            note = getattr(self.remote_monitoring_radio, 'chervil_note', 'accepted and not used')
            logger.info("%s: remote_monitoring_radio=%r: %s", self.label, self.remote_monitoring_radio, note)
        if self.monitor is not None:
            # where each try ran and its workers' samples go from the interchange handle to
            # the monitor directly (no Python per task); `_send` gives each task its key
            self._ix.attach_monitor(self.monitor, float(self.resource_monitoring_interval or 0) or None)
        # (a local block's pools are told the interchange's Unix socket first: chervil_htex::local)
        addresses = self._ix.pool_addresses(
            self.address or (self.loopback_address if self._local else ','.join(get_all_addresses())))
        self._launch_template = self._make_launch_cmd(addresses, self._ix.port)
        self._ix_log = InterchangeLog(self.label, self.logdir, getattr(self, 'log_config', None))
        self._ix_log.logger.info("%s: interchange listening on %s:%s for pools (addresses given to pools: %s; %s)",
                                 self.label, bind, self._ix.port, addresses, "TLS" if tls else "no TLS")
        lean_future.before_wait.append(self._ix.flush)
        results = threading.Thread(target=self._collect_results, name=f"{self.label}-results", daemon=True)
        results.start()
        self._threads.append(results)
        self.provider.script_dir = os.path.join(self.run_dir, 'submit_scripts')
        os.makedirs(self.provider.script_dir, exist_ok=True)
        self._start_blocks()

    @property
    def logdir(self) -> str:
        """This executor's folder in the run directory."""
        return os.path.join(os.path.abspath(self.run_dir), self.label)

    @property
    def worker_logdir(self) -> str:
        """Where the pools write their logs (Parsl's rule): ``worker_logdir_root/label``,
        or this executor's folder in the run directory. It is expanded on the node, so
        ``worker_logdir_root='$TMPDIR'`` means the node's ``$TMPDIR``."""
        if self.worker_logdir_root is not None:
            return f"{self.worker_logdir_root}/{self.label}"
        return self.logdir

    def _launch_fields(self, addresses: str, port: int) -> Dict[str, Any]:
        """The values of the placeholders a ``launch_cmd`` may use."""
        return {
            'python': shlex.quote(sys.executable),
            'debug': '--debug' if self.worker_debug else '',
            'max_workers_per_node': (f'--max-workers-per-node={self.max_workers_per_node}'
                                     if self.max_workers_per_node else ''),
            'addresses': addresses,
            'worker_port': port,
            'cores_per_worker': self.cores_per_worker,
            'mem_per_worker': f'-m {self.mem_per_worker}' if self.mem_per_worker else '',
            'logdir': _shell_words_keeping_variables(self.worker_logdir),
            'heartbeat_period': self.heartbeat_period,
            'heartbeat_threshold': self.heartbeat_threshold,
            'drain_period': f'--drain-period={self.drain_period}' if self.drain_period else '',
            'resource_interval': (f'--resource-interval={self.resource_monitoring_interval}'
                                  if self.monitor is not None and self.resource_monitoring_interval else ''),
            'mpi': f'--mpi-launcher={self.mpi_launcher}' if self.enable_mpi_mode else '',
            'cpu_affinity': self.cpu_affinity,
            'accelerators': ('--available-accelerators ' + ' '.join(map(shlex.quote, self.available_accelerators))
                             if self.available_accelerators else ''),
            'address_probe_timeout': self.address_probe_timeout or 60,
            'prefetch_capacity': self.prefetch_capacity,
            'poll_period': self.poll_period,
        }

    def _make_launch_cmd(self, addresses: str, port: int) -> str:
        cmd = ' '.join((self.launch_cmd or DEFAULT_LAUNCH_CMD).format(**self._launch_fields(addresses, port)).split())
        env = [f'CHERVIL_POOL_TOKEN={self._token_hex}']
        if self._ix.cert_sha256:
            env.append(f'CHERVIL_POOL_CERT_SHA256={self._ix.cert_sha256}')
        if compat.installed():
            env.append(f'{compat.ENV_FLAG}=1')  # the client's `import parsl` alias travels to the workers
        # The run's log format reaches pools on any node in the command ('' : log nothing);
        # Parsl's default, which the pool assumes, is left out.
        log_format = run_log_format(getattr(self, 'log_config', None))
        if log_format != DEFAULT_FORMAT:
            env.append(f'{POOL_LOG_FORMAT_ENV}={shlex.quote(log_format or "")}')
        if self._local:
            # Pools on this machine see the client's import path, so functions from any module the
            # client imported (a test file, a package beside the script) can be unpickled there.
            path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            env.append(f'PYTHONPATH={shlex.quote(path)}')
        # `export … &&`, not `VAR=… cmd`: bash quotes a killed command's text in the job's stderr
        # ("Killed  VAR=… cmd"), and that file is where users and error messages look.
        # WrappedLauncher puts its prefix after the exports (launchers.rs `wrapped`).
        exports = f"export {' '.join(env)}"
        if not self.working_dir:
            return f"{exports} && {cmd}"
        # Made where the pool runs (it may be a node-local path that does not exist yet).
        wd = shlex.quote(self.working_dir)
        return f"{exports} && mkdir -p {wd} && cd {wd} && {cmd}"

    def shutdown(self, block: bool = True) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._ix is not None:
            try:
                lean_future.before_wait.remove(self._ix.flush)
            except ValueError:
                pass
            self._ix.shutdown()
        self._cancel_blocks_at_shutdown()
        if block:
            for t in self._threads:
                if t is not threading.current_thread():
                    t.join(timeout=5)
        self._fail_all(BadStateException(self, f"executor {self.label} was shut down before the task finished"))
        if self._ix_log is not None:
            self._ix_log.close()

    # -- tasks -------------------------------------------------------------------------

    def _nodes_per_block(self) -> Optional[int]:
        """A block's nodes when known before its pools connect: a batch scheduler's block
        has exactly nodes_per_block; elsewhere (a local block given a node file) only the
        pool knows, and it refuses what it cannot hold."""
        limit = getattr(self.provider, 'nodes_per_block', None) if isinstance(self.provider, ClusterProvider) else None
        return limit if isinstance(limit, int) else None

    def submit(self, func, resource_specification, *args: Any, **kwargs: Any) -> cf.Future:
        fut: cf.Future = HTEXFuture(None)
        fut.parsl_executor_task_id = self._send(fut, func, resource_specification, args, kwargs)
        return fut

    def submit_to(self, on_done: Callable[..., None], key: tuple, func, resource_specification,
                  *args: Any, **kwargs: Any) -> int:
        """``submit`` for the DataFlowKernel, returning the executor's task id:
        ``on_done(*key, ok, value)`` gets the try's
        outcome on the results thread — the result (or the RemoteExceptionWrapper of the
        app's exception), or the executor's exception when ``ok`` is False (where the try
        ran reaches the monitor from the engine: ``attach_monitor``). A pending
        task holds no Future (~0.6 KiB and a lock), just one tuple of the callback and
        its key (~70 bytes less than a ``functools.partial`` of them)."""
        return self._send((on_done, *key), func, resource_specification, args, kwargs)

    def validate_resource_spec(self, resource_specification: dict) -> None:
        """Raises InvalidResourceSpecification, naming the keys at fault, for what a task
        of this executor may not ask: outside MPI mode only ``priority`` (a number; lower
        runs first), in MPI mode (``MPIExecutor``) its MPI keys. The same rule ``submit``
        applies to every task."""
        self._spec(resource_specification)

    def _spec(self, resource_specification) -> Sequence[Tuple[str, str]]:
        if resource_specification is not None and not isinstance(resource_specification, dict):
            raise InvalidResourceSpecification(
                set(), f"parsl_resource_specification must be a dict, not {resource_specification!r}")
        if resource_specification or self.enable_mpi_mode:
            # The engine's rule (chervil_mpi::accept), as the Rust front asks it: raises
            # InvalidResourceSpecification naming the keys at fault. (A plain task on a
            # plain executor, the hot path, carries nothing: what the rule says of it.)
            return _core.accept_resource_specification(
                self.enable_mpi_mode, list((resource_specification or {}).items()), self._nodes_per_block())
        return ()

    def _running(self) -> None:
        self._check_bad_state()
        if self._ix is None or self._stopping.is_set():
            raise RuntimeError(f"executor {self.label} is not running; load a config that contains it")

    def _pack(self, func, args, kwargs) -> Tuple[int, bytes]:
        fid, blob, payload = pack_call(self._functions, func, args, kwargs)
        if fid not in self._registered:
            self._ix.register_function(fid, blob)
            self._registered.add(fid)
        return fid, payload

    def splice(self, task: int, deps: List[int], func, resource_specification, args: tuple, kwargs: dict) -> bool:
        """For the DataFlowKernel, once attached: keeps the call of its ``task``, whose
        arguments hold a ``chervil.serialize.Slot(i)`` for the result of its task
        ``deps[i]`` (each a task of this executor), so that the engine launches the task
        itself when they return (``chervil-py``'s ``splice`` module). False (nothing
        kept) when the call cannot be pickled now, or pickles to more than
        ``SPLICE_MAX_CALL`` bytes (kept until the task ends, beside the arguments the
        record holds): its launch then goes the usual way, and says why there."""
        if self._ix is None or self._kernel_on_done is None:
            return False
        try:
            spec = self._spec(resource_specification)
            fid, payload = self._pack(func, args, kwargs)
        except Exception:
            return False
        if len(payload) > SPLICE_MAX_CALL:
            return False
        self._ix.splice_template(task, fid, payload, deps, spec)
        return True

    def launch_spliced(self, task: int, try_id: int) -> bool:
        """Sends try ``try_id`` of a task kept by ``splice``; False when a result it
        needs is gone (it returned before the call was kept): launch it the usual way."""
        self._running()
        return self._ix.launch_spliced(task, try_id)

    def forget_splice(self, task: int) -> None:
        if self._ix is not None:
            self._ix.forget_splice(task)

    def _send(self, target, func, resource_specification, args, kwargs) -> int:
        spec = self._spec(resource_specification)
        self._running()
        fid, payload = self._pack(func, args, kwargs)
        tid = next(self._task_ids)
        # Not a wake of the interchange thread per task: see lean_future.before_wait.
        if target.__class__ is tuple and target[0] is self._kernel_on_done:
            self._ix.submit_try(tid, fid, payload, spec, target[1], target[2])
        else:
            key = target[1:3] if self.monitor is not None and isinstance(target, tuple) else None
            self._ix.submit_soon(tid, fid, payload, spec, target, key)
        return tid

    def attach_kernel(self, kernel, on_done: Callable[..., None], succeeded: Callable[[list, list], None]) -> None:
        """Called by the DataFlowKernel once this executor has started: a ``submit_to``
        whose callback is ``on_done`` is a try of ``kernel``'s task, and its success goes
        from the interchange to the kernel without Python; the results thread then calls
        ``succeeded(values, commands)`` once per batch, with each ``(task, value)`` and
        what the kernel answered. Every other outcome still reaches ``on_done``."""
        self._ix.attach_kernel(kernel, on_done, loads, RemoteExceptionWrapper)
        self._kernel_on_done, self._kernel_succeeded = on_done, succeeded

    def _collect_results(self) -> None:
        ix = self._ix
        while True:
            got = ix.wait(0.5)
            if got is None:
                return
            self._handle_results(*got)
            # (the batch is let go here, before the wait: a large value lives no longer than
            # the users of its future keep it)
            del got

    def _handle_results(self, succeeded, commands, outcomes, pools) -> None:
        # tries' hosts, resource samples and the pools' node rows reach the monitor from the
        # engine (attach_monitor)
        if pools:
            self._ix_log.pools(pools)
        for active, *_ in pools:
            if not active:
                self.poll_soon()  # a pool left: its block may have ended, and a replacement may be due
        if succeeded or commands:
            try:
                self._kernel_succeeded(succeeded, commands)
            except Exception:
                logger.exception("completing tasks failed")
        for target, tid, kind, value, host in outcomes:
            try:
                if kind in (_OK, _ERR):
                    ok, outcome = True, loads(value)  # for _ERR a RemoteExceptionWrapper, which the DFK re-raises
                elif kind == _REFUSED:
                    ok, outcome = False, InvalidResourceSpecification(set(), f"{value} (pool on {host})")
                elif kind == _WORKER_LOST:
                    ok, outcome = False, WorkerLost(None, host, value)
                else:
                    ok, outcome = False, ManagerLost(None, host, value)
            except Exception as e:
                ok, outcome = False, DeserializationError(f"the result of task {tid} (from {host})", e)
            # (where the try ran is recorded by the interchange handle: attach_monitor)
            _deliver(target, ok, outcome)
        # Tasks this batch released (dependants launched just now) leave at once.
        lean_future.flush_before_waiting()

    def _fail_all(self, error: BaseException) -> None:
        if self._ix is not None:
            self._ix.stop_splicing()
        for target in self._ix.take_pending() if self._ix is not None else ():
            _deliver(target, False, error)

    # -- blocks ------------------------------------------------------------------------

    @property
    def workers_per_node(self) -> float:
        """Workers a node is expected to bring before its pool connects: the pools'
        own rule (the engine's) on what is known of the node."""
        return self._expected_slots(nodes_per_block=1)

    def _slots_per_block(self) -> float:
        return self._expected_slots(nodes_per_block=getattr(self.provider, 'nodes_per_block', 1))

    def _expected_slots(self, nodes_per_block: int) -> float:
        from chervil.providers import LocalProvider
        p = self.provider
        return _core.expected_slots_per_block(
            max_workers_per_node=self.max_workers_per_node, cores_per_worker=float(self.cores_per_worker),
            mem_per_worker=self.mem_per_worker, accelerators=len(self.available_accelerators),
            nodes_per_block=int(nodes_per_block or 1), local=isinstance(p, LocalProvider),
            cores_per_node=getattr(p, 'cores_per_node', None), mem_per_node=getattr(p, 'mem_per_node', None))

    def outstanding(self) -> int:
        """Tasks submitted and not finished, across the interchange and the pools."""
        return self._ix.outstanding if self._ix is not None else 0

    @property
    def connected_workers(self) -> int:
        return sum(p[3] for p in self._ix.pools()) if self._ix else 0

    def connected_blocks(self) -> List[str]:
        """Every block whose pool has connected so far, in the order they first did
        (Parsl's ``CONNECTED_BLOCKS``: a block that has gone stays listed)."""
        return self._ix.connected_blocks() if self._ix is not None else []

    def _registered_blocks(self) -> Optional[List[str]]:
        return self.connected_blocks()

    def connected_managers(self) -> List[Dict[str, Any]]:
        if self._ix is None:
            return []
        status = self.status_facade
        return [{'manager': str(pid), 'hostname': host, 'block_id': block, 'worker_count': workers,
                 'tasks': held, 'idle_duration': idle or 0.0,
                 'active': status.get(block, JobStatus(JobState.UNKNOWN)).state != JobState.SCALED_IN,
                 'draining': draining, 'python_version': python, 'parsl_version': version}
                for pid, host, block, workers, held, idle, draining, python, version in self._ix.pools()]

    def _block_command(self, block_id: str) -> str:
        return _fill_block_id(self._launch_template, block_id)

    def _block_load(self) -> Dict[str, Tuple[int, int, Optional[float]]]:
        return self._ix.block_load() if self._ix else {}

    def _retire(self, block_id: str, only_if_idle: bool) -> bool:
        return self._ix is None or self._ix.retire_block(block_id, only_if_idle)

    def __repr__(self) -> str:
        return f"HighThroughputExecutor(label={self.label!r}, provider={self.provider!r})"


def _engine_order(selector) -> str:
    """The dispatch core's name for ``manager_selector``'s order."""
    from chervil.executors.high_throughput.manager_selector import ManagerSelector
    if selector is None:
        return 'round_robin'
    order = getattr(selector, 'engine_order', '') if isinstance(selector, ManagerSelector) else ''
    if not order:
        raise ConfigurationError(
            f"manager_selector={selector!r}: Chervil orders pools in its engine and knows RandomManagerSelector() "
            "and BlockIdManagerSelector() (from parsl.executors.high_throughput.manager_selector); "
            "a selector of your own cannot run there")
    return order


def _shell_words_keeping_variables(text: str) -> str:
    """``text`` as one shell word in which ``$`` keeps its meaning (``$TMPDIR`` expands
    on the node that runs the command, as in Parsl's unquoted launch command), while
    spaces, quotes, backslashes, backquotes and globs are plain characters."""
    return '"' + ''.join('\\' + c if c in '"\\`' else c for c in text) + '"'


def _deliver(target, ok: bool, outcome: Any) -> None:
    """Completes a try: a Future (``submit``) or the DataFlowKernel's callback and key
    (``submit_to``)."""
    if isinstance(target, cf.Future):
        try:
            if ok:
                target.set_result(outcome)
            else:
                target.set_exception(outcome)
        except cf.InvalidStateError:
            pass  # already failed by shutdown
        return
    try:
        target[0](*target[1:], ok, outcome)
    except Exception:
        logger.exception("completing a task failed")
