"""Executors that run on blocks from a provider (``parsl.executors.status_handling``).

A :class:`BlockProviderExecutor` keeps its blocks: starts them through the provider,
polls their status (at most every ``provider.status_polling_interval``), hands the
status to the ``block_error_handler``, and once every ``strategy_period`` asks the
engine's scaling strategy (``chervil._core.Scaler``) what to do and does it. The
decisions and their reasons are logged by the engine (``chervil.log``) and here.

Scaling in never cancels a block that holds tasks unless asked to by a direct
``scale_in(n)`` call: the strategy only picks idle blocks, and the executor retires
a block (no more tasks for its pools, which are told to exit) before it cancels
the job.
"""
import itertools
import logging
import threading
import time
from typing import Dict, List, Optional, Tuple

from chervil import _core
from chervil.executors.base import ParslExecutor
from chervil.executors.errors import BadStateException, ScalingFailed
from chervil.jobs.error_handlers import noop_error_handler, simple_error_handler
from chervil.jobs.states import JobState, JobStatus

logger = logging.getLogger(__name__)

#: What ``_block_load`` says of one block: pools connected, tasks held, seconds idle.
BlockLoad = Tuple[int, int, Optional[float]]


class BlockProviderExecutor(ParslExecutor):
    """The part of an executor that deals with blocks; see the module doc."""

    def __init__(self, *, provider, block_error_handler=True) -> None:
        super().__init__()
        self.provider = provider
        if block_error_handler is True:
            block_error_handler = simple_error_handler
        elif block_error_handler is False or block_error_handler is None:
            block_error_handler = noop_error_handler
        self.block_error_handler = block_error_handler
        self.blocks_to_job_id: Dict[str, str] = {}
        self.job_ids_to_block: Dict[str, str] = {}
        self._block_ids = itertools.count()
        self._status: Dict[str, JobStatus] = {}
        self._last_poll = float('-inf')
        self._blocks_lock = threading.RLock()
        self._executor_bad_state = threading.Event()
        self._executor_exception: Optional[BaseException] = None
        self._scaler = None

    # -- what a subclass provides ------------------------------------------------------

    def _block_command(self, block_id: str) -> str:
        """The command a new block runs (before the launcher wraps it)."""
        raise NotImplementedError

    @property
    def workers_per_node(self) -> float:
        return 1

    def _slots_per_block(self) -> float:
        """The workers a block brings, which scaling counts in."""
        return float(self.workers_per_node * getattr(self.provider, 'nodes_per_block', 1))

    @property
    def outstanding(self) -> int:
        return 0

    def _block_load(self) -> Dict[str, BlockLoad]:
        """Per connected block: pools, tasks held, seconds idle (None if busy)."""
        return {}

    def _retire(self, block_id: str, only_if_idle: bool) -> bool:
        """Stops sending the block work; False if it holds tasks and ``only_if_idle``."""
        return True

    def _fail_all(self, error: BaseException) -> None:
        """Fails every task not yet finished with ``error``."""

    # -- bad state ---------------------------------------------------------------------

    @property
    def bad_state_is_set(self) -> bool:
        return self._executor_bad_state.is_set()

    @property
    def executor_exception(self) -> Optional[BaseException]:
        return self._executor_exception

    def set_bad_state_and_fail_all(self, exception: BaseException) -> None:
        """Marks the executor as unable to run anything: every task now and later
        fails with ``BadStateException`` carrying ``exception``."""
        if self.bad_state_is_set:
            return
        self._executor_exception = exception
        self._executor_bad_state.set()
        logger.error("%s: stopped: %s", self.label, exception)
        self._fail_all(BadStateException(self, str(exception)))

    def _check_bad_state(self) -> None:
        if self.bad_state_is_set:
            raise BadStateException(self, str(self._executor_exception))

    # -- blocks ------------------------------------------------------------------------

    def _start_blocks(self) -> None:
        init = max(getattr(self.provider, 'init_blocks', 1), getattr(self.provider, 'min_blocks', 0))
        if init:
            self.scale_out(init)

    def scale_out(self, blocks: int = 1) -> List[str]:
        """Starts ``blocks`` more blocks through the provider; returns their ids."""
        new = []
        with self._blocks_lock:
            for _ in range(blocks):
                block_id = str(next(self._block_ids))
                try:
                    job_id = self.provider.submit(self._block_command(block_id), 1,
                                                  job_name=_core.block_job_name(self.label, block_id))
                except Exception as e:
                    raise ScalingFailed(self, f"the provider could not start block {block_id}: {e}") from e
                logger.info("%s: started block %s as job %s", self.label, block_id, job_id)
                self.blocks_to_job_id[block_id] = job_id
                self.job_ids_to_block[job_id] = block_id
                self._set_status(block_id, JobStatus(JobState.PENDING))
                new.append(block_id)
        return new

    scale_out_facade = scale_out

    def scale_in(self, blocks: int = 1, max_idletime: Optional[float] = None) -> List[str]:
        """Retires and cancels up to ``blocks`` blocks; returns their ids.

        With ``max_idletime`` only blocks holding no task that have been idle that
        long (or never connected) are chosen, so there may be fewer. Without it
        (Parsl's forceful scale-in) busy blocks are taken too, idle ones first; the
        tasks they hold fail with ManagerLost and are retried if retries allow.
        """
        load = self._block_load()
        live = [b for b in self.blocks_to_job_id if not self._status.get(b, JobStatus(JobState.UNKNOWN)).terminal]

        def order(b: str):
            pools, held, idle = load.get(b, (0, 0, None))
            return (pools > 0, held, -(idle or 0.0))

        if max_idletime is None:
            chosen = sorted(live, key=order)[:blocks]
        else:
            chosen = [b for b in sorted(live, key=order)
                      if load.get(b, (0, 0, None))[0] == 0
                      or (load[b][1] == 0 and (load[b][2] or 0.0) >= max_idletime)][:blocks]
        return self._retire_blocks(chosen, force=max_idletime is None)

    def scale_in_facade(self, n: int, max_idletime: Optional[float] = None) -> List[str]:
        return self.scale_in(n, max_idletime=max_idletime)

    def _retire_blocks(self, block_ids: List[str], force: bool) -> List[str]:
        retired = []
        with self._blocks_lock:
            for b in block_ids:
                if not self._retire(b, only_if_idle=not force):
                    logger.info("%s: block %s took a task before it could be retired; kept", self.label, b)
                    if self._scaler is not None:
                        self._scaler.keep(b)
                    continue
                retired.append(b)
            jobs = [self.blocks_to_job_id[b] for b in retired]
            if jobs:
                try:
                    self.provider.cancel(jobs)
                except Exception:
                    logger.exception("%s: cancelling jobs %s of retired blocks failed", self.label, jobs)
            for b in retired:
                self._set_status(b, JobStatus(JobState.SCALED_IN))
                logger.info("%s: scaled in block %s (job %s)", self.label, b, self.blocks_to_job_id[b])
        return retired

    def _set_status(self, block_id: str, status: JobStatus) -> None:
        """Every block state change goes through here, so monitoring sees each one once."""
        before = self._status.get(block_id)
        self._status[block_id] = status
        if self.monitor is not None and (before is None or before.state != status.state):
            job = self.blocks_to_job_id.get(block_id)
            self.monitor.block(self.label, block_id, None if job is None else str(job), status.state.name)

    def _cancel_blocks_at_shutdown(self) -> None:
        """Cancels every block's job (also those believed ended: a scheduler's answer may
        lag, and a job left queued costs the user); the ones not ended are SCALED_IN, as
        in Parsl."""
        with self._blocks_lock:
            live = [b for b in self.blocks_to_job_id if not self._status.get(b, JobStatus(JobState.UNKNOWN)).terminal]
            jobs = list(self.blocks_to_job_id.values())
            if jobs:
                try:
                    self.provider.cancel(jobs)
                except Exception:
                    logger.exception("%s: cancelling blocks %s failed", self.label, jobs)
            for b in live:
                self._set_status(b, JobStatus(JobState.SCALED_IN))

    def status(self) -> Dict[str, JobStatus]:
        """Polls the provider for every block not yet ended; returns all blocks."""
        with self._blocks_lock:
            live = [b for b in self.blocks_to_job_id if not self._status.get(b, JobStatus(JobState.UNKNOWN)).terminal]
            if live:
                statuses = self.provider.status([self.blocks_to_job_id[b] for b in live])
                for b, s in zip(live, statuses):
                    if not self._status[b].terminal:
                        if s.state != self._status[b].state:
                            logger.info("%s: block %s is %s%s", self.label, b, s.state.name,
                                        f" ({s.message})" if s.message else "")
                        self._set_status(b, s)
            self._last_poll = time.monotonic()
            return dict(self._status)

    @property
    def status_facade(self) -> Dict[str, JobStatus]:
        """The status of every block as of the last poll."""
        return dict(self._status)

    def poll_soon(self) -> None:
        """The next strategy round polls the provider, however recent the last poll.

        Called when a pool leaves: on a batch scheduler ``status_polling_interval``
        is a minute, and a block whose pool was killed would otherwise count as running
        — and not be replaced — until then."""
        self._last_poll = float('-inf')

    def poll(self) -> Dict[str, JobStatus]:
        """Polls the provider when ``status_polling_interval`` has passed since the last poll."""
        interval = float(getattr(self.provider, 'status_polling_interval', 5.0))
        if time.monotonic() - self._last_poll >= interval:
            return self.status()
        return self.status_facade

    # -- the strategy ------------------------------------------------------------------

    def strategize(self, strategy: Optional[str], max_idletime: float) -> None:
        """One round: poll, let the error handler judge, then scale as the engine's
        strategy decides. Called by the DFK's job status poller."""
        if self.bad_state_is_set:
            return
        status = self.poll()
        if status:
            self.block_error_handler(self, status)
        if self.bad_state_is_set:
            return
        if self._scaler is None:
            p = self.provider
            self._scaler = _core.Scaler(self.label, strategy, getattr(p, 'min_blocks', 0), getattr(p, 'max_blocks', 1),
                                        float(getattr(p, 'parallelism', 1)),
                                        self._slots_per_block(),
                                        float(max_idletime))
        load = self._block_load()
        blocks = [(b, int(s.state), *load.get(b, (0, 0, None))) for b, s in status.items()]
        decision = self._scaler.step(self.outstanding, blocks)
        if decision is None:
            return
        kind, what, reason = decision
        if kind == 'out':
            logger.info("%s: scaling out by %d blocks: %s", self.label, what, reason)
            try:
                self.scale_out(what)
            except ScalingFailed as e:
                # Counted as a failed block, so the error handler weighs it with the rest.
                logger.error("%s", e)
                with self._blocks_lock:
                    block_id = str(next(self._block_ids))
                    self._set_status(block_id, JobStatus(JobState.FAILED, message=str(e)))
        else:
            logger.info("%s: scaling in blocks %s: %s", self.label, what, reason)
            self._retire_blocks(list(what), force=False)
