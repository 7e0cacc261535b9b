"""Executors that run on blocks from a provider (``parsl.executors.status_handling``).

A :class:`BlockProviderExecutor` has blocks from its provider. Which blocks exist,
when the provider is polled (at most every ``provider.status_polling_interval``, at
once after a pool leaves), and what a strategy round does — poll, the
``block_error_handler``, at most one decision of the engine's scaling strategy,
carried out — is the engine's book and driver (``chervil._core.BlockBook``, the Rust
front's too); this class keeps Parsl's surface over it, and the driver calls back into
it for the provider and the interchange. The decisions and their reasons are logged
by the engine (``chervil.log``).

Scaling in never cancels a block that holds tasks unless asked to by a direct
``scale_in(n)`` call: the strategy only picks idle blocks, and the executor retires
a block (no more tasks for its pools, which are told to exit) before it cancels
the job.
"""
import logging
import threading
from typing import Any, Dict, List, Optional, Tuple

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
        self._book_made: Optional[Any] = None
        self._book_monitor: Optional[Any] = None
        self._book_interval: Optional[float] = None
        self._blocks_lock = threading.RLock()
        self._executor_bad_state = threading.Event()
        self._executor_exception: Optional[BaseException] = None
        self._scaler = None

    @property
    def _book(self):
        """The engine's book of this executor's blocks (``_core.BlockBook``, the Rust
        front's too): made on first use, when the label is final; block changes go to
        the run's monitor once it has one."""
        book = self._book_made
        interval = float(getattr(self.provider, 'status_polling_interval', 5.0))
        if book is None:
            with self._blocks_lock:
                if self._book_made is None:
                    self._book_made = _core.BlockBook(self.label, interval)
                    self._book_interval = interval
                book = self._book_made
        if interval != self._book_interval:
            # read at every use, as Parsl reads the provider's property at every poll
            self._book_interval = interval
            book.set_status_polling_interval(interval)
        if self.monitor is not self._book_monitor:
            self._book_monitor = self.monitor
            book.attach_monitor(self.monitor)
        return book

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

    def outstanding(self) -> int:
        """Tasks submitted and not finished (a method, as in Parsl)."""
        return 0

    def _block_load(self) -> Dict[str, BlockLoad]:
        """Per connected block: pools, tasks held, seconds idle (None if busy)."""
        return {}

    def _registered_blocks(self) -> Optional[List[str]]:
        """Every block whose workers ever registered with this executor, when they do
        (HTEX's pools); None when they do not. A block that ends without registering
        is MISSING (the engine's ``BlockBook`` rule)."""
        return None

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

    @property
    def blocks_to_job_id(self) -> Dict[str, str]:
        """Block id → the provider's job id, for every block started."""
        return {b: job for b, job, _ in self._book.blocks() if job is not None}

    @property
    def job_ids_to_block(self) -> Dict[str, str]:
        return {job: b for b, job in self.blocks_to_job_id.items()}

    def _start_blocks(self) -> None:
        init = _core.initial_blocks(getattr(self.provider, 'init_blocks', 1), getattr(self.provider, 'min_blocks', 0))
        if init:
            self.scale_out(init)

    def scale_out(self, blocks: int = 1) -> List[str]:
        """Starts ``blocks`` more blocks through the provider; returns their ids.

        A block the provider cannot start is a failed block (the error handler weighs
        it with the rest), and ``ScalingFailed`` says why."""
        with self._blocks_lock:
            try:
                return self._book.start(self, blocks)
            except ValueError as e:
                raise ScalingFailed(self, str(e)) from None

    scale_out_facade = scale_out

    def scale_in(self, blocks: int = 1, max_idletime: Optional[float] = None) -> List[str]:
        """Retires and cancels up to ``blocks`` blocks; returns their ids.

        With ``max_idletime`` only blocks holding no task that have been idle that
        long (or never connected) are chosen, so there may be fewer. Without it
        (Parsl's forceful scale-in) busy blocks are taken too, idle ones first; the
        tasks they hold fail with ManagerLost and are retried if retries allow.
        """
        with self._blocks_lock:
            chosen = self._book.choose_to_retire(blocks, max_idletime, self._block_load())
            return self._book.retire(self, chosen, max_idletime is None, self._scaler)

    def scale_in_facade(self, n: int, max_idletime: Optional[float] = None) -> List[str]:
        return self.scale_in(n, max_idletime=max_idletime)

    def _cancel_blocks_at_shutdown(self) -> None:
        """Cancels every block's job (also those believed ended: a scheduler's answer may
        lag, and a job left queued costs the user); the ones not ended are SCALED_IN, as
        in Parsl."""
        if self._book_made is None:
            return
        with self._blocks_lock:
            self._book.shutdown(self)

    def status(self) -> Dict[str, JobStatus]:
        """Polls the provider for every block not yet ended; returns all blocks."""
        with self._blocks_lock:
            self._book.poll(self, force=True)
        return self.status_facade

    @property
    def status_facade(self) -> Dict[str, JobStatus]:
        """The status of every block as of the last poll."""
        if self._book_made is None:
            return {}
        return {b: JobStatus(JobState(state), message, exit_code, stdout, stderr)
                for b, _, (state, message, exit_code, stdout, stderr) in self._book.blocks()}

    def poll_soon(self) -> None:
        """The next strategy round polls the provider, however recent the last poll.

        Called when a pool leaves: on a batch scheduler ``status_polling_interval``
        is a minute, and a block whose pool was killed would otherwise count as running
        — and not be replaced — until then."""
        self._book.poll_soon()

    def poll(self) -> Dict[str, JobStatus]:
        """Polls the provider when ``status_polling_interval`` has passed since the last poll."""
        with self._blocks_lock:
            self._book.poll(self)
        return self.status_facade

    # -- the strategy ------------------------------------------------------------------

    def strategize(self, strategy: Optional[str], max_idletime: float) -> None:
        """One round of the engine's driver (the Rust front's too): poll when due, this
        executor's ``block_error_handler``, then at most one scaling decision of the
        engine's strategy, carried out. Called by the DFK's job status poller."""
        if self.bad_state_is_set:
            return
        with self._blocks_lock:
            if self._scaler is None and strategy not in (None, 'none'):
                p = self.provider
                self._scaler = _core.Scaler(strategy, min_blocks=getattr(p, 'min_blocks', 0),
                                            max_blocks=getattr(p, 'max_blocks', 1),
                                            parallelism=float(getattr(p, 'parallelism', 1)),
                                            slots_per_block=self._slots_per_block(), max_idletime=float(max_idletime))
            self._book.round(self, self._scaler)

    # -- what the engine's driver calls ------------------------------------------------

    def _submit_block(self, block_id: str, job_name: str) -> str:
        return self.provider.submit(self._block_command(block_id), 1, job_name=job_name)

    def _provider_status(self, job_ids: List[str]) -> List[Tuple[int, Optional[str], Optional[int],
                                                                   Optional[str], Optional[str]]]:
        return [(int(s.state), s.message, s.exit_code, s.stdout_path, s.stderr_path)
                for s in self.provider.status(job_ids)]

    def _cancel(self, job_ids: List[str]) -> None:
        try:
            self.provider.cancel(job_ids)
        except Exception:
            logger.exception("%s: cancelling jobs %s failed", self.label, job_ids)

    def _judge_blocks(self) -> bool:
        """The block error handler on every block's status; True once the executor stopped."""
        status = self.status_facade
        if status and not self.bad_state_is_set:
            self.handle_errors(status)
        return self.bad_state_is_set

    def handle_errors(self, status: Dict[str, JobStatus]) -> None:
        """Gives every block's status to ``block_error_handler``, which may stop this
        executor (``set_bad_state_and_fail_all``). Called after each poll (Parsl's hook)."""
        self.block_error_handler(self, status)
