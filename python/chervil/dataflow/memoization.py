"""Memoization and checkpoints (Parsl's ``parsl.dataflow.memoization``).

A task of an app with ``cache=True`` gets a hash of its function and its resolved
arguments (:func:`make_hash`; the rules are Parsl's, see :func:`id_for_memo`). A
later task with the same hash takes the earlier one's outcome instead of running:
from this run (successes and failures, as in Parsl) or from checkpoints of earlier
runs (successes only). Checkpoints are written by the engine
(``chervil-checkpoint``): each write is a whole new file, renamed into place, so a
killed client never leaves a corrupt checkpoint, and a damaged one is a
:class:`BadCheckpoint` naming the file.

Both configuration forms work: ``Config(memoizer=BasicMemoizer(checkpoint_mode=...))``
and the older ``Config(checkpoint_mode=..., checkpoint_files=..., checkpoint_period=...)``.
"""
import functools
import hashlib
import logging
import os
import pickle
import types
from abc import ABCMeta, abstractmethod
from concurrent.futures import Future
from functools import singledispatch
from typing import Any, Dict, List, Optional, Sequence

from chervil import _core
from chervil.data_provider.files import File
from chervil.dataflow.errors import BadCheckpoint
from chervil.errors import ConfigurationError

logger = logging.getLogger(__name__)

CHECKPOINT_MODES = ('task_exit', 'periodic', 'dfk_exit', 'manual')


@singledispatch
def id_for_memo(obj: object, output_ref: bool = False) -> bytes:
    """The bytes that stand for ``obj`` in a memo hash: equal for values that should
    share a result, different otherwise. Register your own types with
    ``@id_for_memo.register(MyType)``; ``output_ref`` is True for values in ``outputs=``."""
    name = type(obj).__name__
    raise ValueError(
        f"cannot memoize an argument of type {type(obj).__module__}.{name}: chervil does not know what makes two "
        f"of them equal. Register a rule with @chervil.dataflow.memoization.id_for_memo.register({name}), "
        "or leave it out of the hash with ignore_for_cache=['<argument name>']")


@id_for_memo.register(str)
@id_for_memo.register(int)
@id_for_memo.register(float)
@id_for_memo.register(bytes)
@id_for_memo.register(type(None))
def _id_plain(obj, output_ref: bool = False) -> bytes:
    return pickle.dumps(obj)


def _exact(obj, kind) -> None:
    # A subclass may carry state its base type's rule would ignore.
    if type(obj) is not kind:
        raise ValueError(f"cannot memoize an argument of type {type(obj).__name__} (a subclass of {kind.__name__}): "
                         f"register a rule for it with id_for_memo.register({type(obj).__name__})")


@id_for_memo.register(list)
def _id_list(obj: list, output_ref: bool = False) -> bytes:
    _exact(obj, list)
    return pickle.dumps([id_for_memo(e, output_ref=output_ref) for e in obj])


@id_for_memo.register(tuple)
def _id_tuple(obj: tuple, output_ref: bool = False) -> bytes:
    _exact(obj, tuple)
    return pickle.dumps([id_for_memo(e, output_ref=output_ref) for e in obj])


@id_for_memo.register(dict)
def _id_dict(obj: dict, output_ref: bool = False) -> bytes:
    """Keys in sorted order, so ``{a, b}`` and ``{b, a}`` hash alike."""
    _exact(obj, dict)
    parts: List[bytes] = []
    for k in sorted(obj):
        parts.append(id_for_memo(k))
        parts.append(id_for_memo(obj[k], output_ref=output_ref))
    return pickle.dumps(parts)


@id_for_memo.register(types.FunctionType)
def _id_function(f, output_ref: bool = False) -> bytes:
    """By name and module (as Parsl): editing a function's body keeps its checkpoints."""
    return pickle.dumps(["types.FunctionType", f.__name__, f.__module__])


@id_for_memo.register(functools.partial)
def _id_partial(p: functools.partial, output_ref: bool = False) -> bytes:
    """A bash app's task function is a named partial: hashed by the app's name as Parsl
    hashes it (so its checkpoints carry over); any other partial by what it binds."""
    name = p.__dict__.get('__name__')
    if name is not None:
        return pickle.dumps(["types.FunctionType", name, "functools"])
    return pickle.dumps(["functools.partial", id_for_memo(p.func), id_for_memo(p.args),
                         id_for_memo(p.keywords)])


@id_for_memo.register(File)
def _id_file(f: File, output_ref: bool = False) -> bytes:
    """By where it is (its URL or path), not by its contents."""
    return pickle.dumps(["chervil.File", f.url])


# Parsl's names for the rules above, for code that calls or re-registers them.
id_for_memo_pickle = _id_plain
id_for_memo_list = _id_list
id_for_memo_tuple = _id_tuple
id_for_memo_dict = _id_dict


class CheckpointCommand:
    """One entry to checkpoint: ``task_record``'s ``result``, or its ``exception``
    (never both; a result of None is a result)."""

    def __init__(self, task_record, *, result: Optional[object] = None,
                 exception: Optional[BaseException] = None) -> None:
        if result is not None and exception is not None:
            raise ValueError("a CheckpointCommand holds a result or an exception, not both")
        self._task_record = task_record
        self._result = result
        self._exception = exception

    @property
    def task_record(self):
        return self._task_record

    @property
    def result(self) -> Optional[object]:
        return self._result

    @property
    def exception(self) -> Optional[BaseException]:
        return self._exception


def make_hash(task: Dict[str, Any]) -> str:
    """The memo hash of a task record: outputs (as output references), the other
    keyword arguments except ``ignore_for_cache``, the function and the positional
    arguments."""
    kwargs = dict(task['kwargs'])
    for k in task['ignore_for_cache']:
        kwargs.pop(k, None)
    parts: List[bytes] = []
    if 'outputs' in kwargs:
        parts.append(id_for_memo(kwargs.pop('outputs'), output_ref=True))
    parts.extend((id_for_memo(kwargs), id_for_memo(task['func']), id_for_memo(task['args'])))
    return hashlib.md5(b''.join(parts)).hexdigest()


class Memoizer(metaclass=ABCMeta):
    """What the DataFlowKernel asks of a memoizer (Parsl's interface)."""

    @abstractmethod
    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        ...

    @abstractmethod
    def check_memo(self, task: Dict[str, Any]) -> Optional[Future]:
        """A done future to use instead of running ``task``, or None; sets ``task['hashsum']``."""

    @abstractmethod
    def update_memo_result(self, task: Dict[str, Any], r: Any) -> None:
        ...

    @abstractmethod
    def update_memo_exception(self, task: Dict[str, Any], e: BaseException) -> None:
        ...

    def checkpoint(self) -> None:
        """Write what is waiting to be checkpointed (``checkpoint_mode='manual'``)."""

    @abstractmethod
    def close(self) -> None:
        ...


def _period_seconds(period: Optional[str]) -> Optional[float]:
    if period is None:
        return None
    try:
        h, m, s = (int(p) for p in str(period).split(':'))
    except ValueError:
        raise ConfigurationError(f"checkpoint_period={period!r}: give HH:MM:SS, e.g. '00:10:00'") from None
    return float(h * 3600 + m * 60 + s)


def _parsl_checkpoint(directory: str) -> Dict[str, Any]:
    """Results from a Parsl run's ``tasks.pkl`` (a stream of pickled ``{'hash',
    'exception', 'result'}`` dicts), so a campaign started on Parsl continues on
    Chervil: the hashes are computed the same way."""
    path = os.path.join(directory, 'tasks.pkl')
    if not os.path.exists(path):
        return {}
    found: Dict[str, Any] = {}
    with open(path, 'rb') as f:
        while True:
            try:
                record = pickle.load(f)
            except EOFError:
                break
            except Exception as e:
                raise BadCheckpoint(f"Parsl checkpoint {path} cannot be read after {len(found)} records: "
                                    f"{type(e).__name__}: {e}. Remove it (or leave it out of checkpoint_files) "
                                    "to run without it") from None
            if isinstance(record, dict) and record.get('exception') is None and 'hash' in record:
                found[record['hash']] = record['result']
    logger.info("Loaded %d results from Parsl checkpoint %s", len(found), path)
    return found


class BasicMemoizer(Memoizer):
    """Memoization in memory plus checkpoints on disk.

    ``checkpoint_files``: checkpoint directories to load (default: every earlier run's,
    when ``checkpoint_mode`` is set; see :func:`chervil.utils.get_all_checkpoints`).
    ``checkpoint_mode``: ``'task_exit'`` (each task as it finishes), ``'periodic'`` (every
    ``checkpoint_period``, ``HH:MM:SS``), ``'dfk_exit'`` (at cleanup), ``'manual'``
    (``dfk.checkpoint()``, and at cleanup), or None for no checkpoints.
    ``memoize=False`` turns memoization off for every app.
    """

    def __init__(self, *, checkpoint_files: Optional[Sequence[str]] = None, checkpoint_period: Optional[str] = None,
                 checkpoint_mode: Optional[str] = None, memoize: bool = True) -> None:
        if checkpoint_mode is not None and checkpoint_mode not in CHECKPOINT_MODES:
            raise ConfigurationError(f"checkpoint_mode={checkpoint_mode!r}: choose 'task_exit', 'periodic', "
                                     "'dfk_exit' or 'manual' (or None for no checkpoints)")
        self._period = _period_seconds(checkpoint_period)
        if checkpoint_mode == 'periodic' and not self._period:
            raise ConfigurationError("checkpoint_mode='periodic' needs checkpoint_period='HH:MM:SS' (more than 0)")
        if isinstance(checkpoint_files, str):
            checkpoint_files = [checkpoint_files]
        self.checkpoint_files = checkpoint_files
        self.checkpoint_mode = checkpoint_mode
        self.checkpoint_period = checkpoint_period
        self.memoize = memoize
        self.run_dir: Optional[str] = None
        # The engine's table (the Rust front's rules): outcomes by hash, earlier runs'
        # results, and which results this run's checkpoint must hold.
        self._table = _core.MemoTable(None, False)
        self._writer = None
        self._timer = None

    @property
    def checkpointed_tasks(self) -> int:
        return self._writer.written if self._writer is not None else 0

    def start(self, *, run_dir: str, config_run_dir: str) -> None:
        self.run_dir = run_dir
        named = None if self.checkpoint_files is None else [os.fspath(d) for d in self.checkpoint_files]
        dirs = _core.checkpoints_to_load(named, self.checkpoint_mode is not None, config_run_dir, run_dir)
        try:
            self._table = _core.MemoTable(dirs, self.checkpoint_mode is not None)
        except _core.CheckpointError as e:
            raise BadCheckpoint(str(e)) from None
        if dirs:
            for d in dirs:
                # Parsl's results are unpickled already: they stand in as they are.
                for h, result in _parsl_checkpoint(d).items():
                    self._table.preload(h, result)
            logger.info("Loaded %d checkpointed results from %d checkpoint directories", len(self._table), len(dirs))
        if self.checkpoint_mode is not None:
            directory = os.path.join(run_dir, 'checkpoint')
            # Made now, so a run that checkpoints nothing still leaves a directory that
            # checkpoint_files= can name (as Parsl does).
            os.makedirs(directory, exist_ok=True)
            # 'periodic' is timed here rather than in the engine, so each pass is a line
            # in parsl.log as in Parsl (scripts and Parsl's tests read those lines).
            engine_mode = 'manual' if self.checkpoint_mode == 'periodic' else self.checkpoint_mode
            self._writer = _core.Checkpointer(directory, engine_mode, None)
            if self.checkpoint_mode == 'periodic':
                from chervil.utils import Timer
                self._periodic_pass()  # a first pass at once, then every period, as Parsl's timer does
                self._timer = Timer(self._periodic_pass, interval=self._period, name='checkpoint-timer')

    def _periodic_pass(self) -> None:
        try:
            n = self._writer.checkpoint()
        except Exception:
            logger.exception("Periodic checkpoint failed")
            return
        if n:
            logger.info("Done checkpointing %d tasks", n)
        else:
            logger.info("No tasks checkpointed in this pass")

    def check_memo(self, task: Dict[str, Any]) -> Optional[Future]:
        if not self.memoize or not task['memoize']:
            task['hashsum'] = None
            return None
        h = task['hashsum'] = make_hash(task)
        hit = self._table.lookup(h)
        if hit is None:
            return None
        fut: Future = Future()
        if isinstance(hit, bytes):
            try:
                fut.set_result(pickle.loads(hit))
            except Exception as e:
                # A result whose class is gone or changed: run the task again.
                logger.warning("Checkpointed result for task %s (%s) cannot be unpickled (%s); running it again",
                               task['id'], task['func_name'], e)
                self._table.undecodable(h)
                return None
            return fut
        ok, outcome = hit
        if ok:
            fut.set_result(outcome)
        else:
            fut.set_exception(outcome)
        return fut

    def update_memo_result(self, task: Dict[str, Any], r: Any) -> None:
        h = task.get('hashsum')
        if not h:
            return
        # The table says what this run's checkpoint must hold: a new result; an earlier
        # run's, once (so the next run, given only the last checkpoint, still has it);
        # nothing for a result reused within the run.
        write = self._table.succeeded(h, r, bool(task.get('from_memo')))
        if write is None or self._writer is None:
            return
        if isinstance(write, bytes):
            self._writer.record(h, write)
            return
        try:
            blob = pickle.dumps(r)
        except Exception:
            try:
                import cloudpickle
                blob = cloudpickle.dumps(r)
            except Exception as e:
                logger.warning("Task %s's result cannot be pickled, so it is not checkpointed: %s", task['id'], e)
                return
        self._writer.record(h, blob)

    def update_memo_exception(self, task: Dict[str, Any], e: BaseException) -> None:
        h = task.get('hashsum')
        if h:
            # Like Parsl, a failure is reused within the run; it is never checkpointed.
            self._table.failed(h, e)

    def checkpoint(self) -> None:
        if self._writer is not None:
            n = self._writer.checkpoint()
            logger.info("Checkpointed %d tasks", n)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.close()
            self._timer = None
        if self._writer is not None:
            n = self._writer.close()
            logger.info("Final checkpoint: %d tasks (%d this run)", n, self._writer.written)


__all__ = ['BasicMemoizer', 'Memoizer', 'id_for_memo', 'make_hash', 'CHECKPOINT_MODES']
