"""Helpers users import from ``parsl.utils``."""
import contextlib
import inspect
import logging
import os
import subprocess
import threading
import time
from typing import IO, Dict, Iterator, List, Optional, Tuple, Union

from chervil import _core


logger = logging.getLogger(__name__)


def get_std_fname_mode(
    fdname: str,
    stdfspec: Union[os.PathLike, str, Tuple[str, str], Tuple[os.PathLike, str]],
) -> Tuple[str, str]:
    """Reads a ``stdout=``/``stderr=`` spec: a path (appended to) or a ``(path, mode)`` pair.

    A spec of the wrong shape is typeguard's ``TypeCheckError`` naming the argument, as
    in Parsl (whose tests expect exactly that type). Checked by hand: this runs on every
    worker, and importing typeguard costs a tenth of a second there."""
    if isinstance(stdfspec, (str, os.PathLike)):
        fname, mode = stdfspec, 'a+'
    elif (isinstance(stdfspec, tuple) and len(stdfspec) == 2 and isinstance(stdfspec[0], (str, os.PathLike))
          and isinstance(stdfspec[1], str)):
        fname, mode = stdfspec
    else:
        from typeguard import TypeCheckError
        raise TypeCheckError(
            f'argument "stdfspec" ({type(stdfspec).__module__}.{type(stdfspec).__qualname__}) did not match any '
            f'element in the Union: os.PathLike, str, Tuple[str, str], Tuple[os.PathLike, str] ({fdname}={stdfspec!r})')
    path = os.fspath(fname)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path, mode


def get_all_checkpoints(rundir: str = "runinfo") -> List[str]:
    """The checkpoint directories of every earlier run under ``rundir``, oldest first
    (by run number: run 1000 after run 999), as absolute paths."""
    return _core.all_checkpoints(rundir)


def get_last_checkpoint(rundir: str = "runinfo") -> List[str]:
    """The checkpoint directory of the latest run that has one (a list of 0 or 1)."""
    return _core.last_checkpoint(rundir)


class Timer:
    """Calls ``callback`` every ``interval`` seconds on a daemon thread until closed."""

    def __init__(self, callback, *args, interval: float = 5, name: str = None):
        self.callback = callback
        self.args = args
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name or "chervil-timer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.callback(*self.args)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


class AutoCancelTimer(threading.Timer):
    """A ``threading.Timer`` that is cancelled when its ``with`` block ends."""

    def __init__(self, interval: float, function, args=None, kwargs=None):
        super().__init__(interval, function, args=args, kwargs=kwargs)
        self.daemon = True

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()


def get_version() -> str:
    """Chervil's version (Parsl's ``get_version``)."""
    from chervil import __version__
    return __version__


@contextlib.contextmanager
def wait_for_file(path: str, seconds: float = 10) -> Iterator[None]:
    """Waits up to ``seconds`` for ``path`` to appear (polling), then runs the block
    whether it did or not."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
    yield


@contextlib.contextmanager
def time_limited_open(path: str, mode: str, seconds: float = 1) -> Iterator[IO]:
    """``open(path, mode)`` after waiting up to ``seconds`` for the file to appear."""
    with wait_for_file(path, seconds):
        pass
    with open(path, mode) as f:
        yield f


def wtime_to_minutes(time_string: str) -> int:
    """``'HH:MM:SS'`` as whole minutes (seconds are dropped)."""
    hours, minutes, _seconds = time_string.split(':')
    total = int(hours) * 60 + int(minutes)
    if total < 1:
        logger.warning("walltime %r is less than a minute; schedulers that count minutes see 0", time_string)
    return total


class RepresentationMixin:
    """Gives a class a ``repr`` that reads like the call that made it, defaults included:
    ``Foo(1, 'two', third='three')``. Each constructor parameter must be kept as an
    attribute of the same name (checked when ``_validate_repr`` is true, as in tests)."""

    __max_width__ = 80
    _validate_repr = False

    def __repr__(self) -> str:
        init = self.__init__  # type: ignore[misc]
        init = getattr(init, '__wrapped__', init)
        spec = inspect.getfullargspec(init)
        names = spec.args[1:]
        n_defaults = len(spec.defaults or ())
        positional = names[:len(names) - n_defaults] if n_defaults else names
        keywords = names[len(names) - n_defaults:] if n_defaults else []
        if self._validate_repr:
            for name in names:
                if not hasattr(self, name):
                    raise AttributeError(f"class {type(self).__name__} uses {name} in the constructor, "
                                         "but does not define it as an attribute")
        missing = "<unrecorded>"
        args = [getattr(self, n, missing) for n in positional]
        kwargs: Dict[str, object] = {n: getattr(self, n, missing) for n in keywords + list(spec.kwonlyargs)}
        items = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in sorted(kwargs.items())]
        line = f"{type(self).__name__}({', '.join(items)})"
        if len(line) <= type(self).__max_width__:
            return line

        def indented(text: str) -> str:
            return "\n    ".join(text.splitlines())
        body = "".join(f"\n    {indented(repr(a))}," for a in args)
        body += ", ".join(f"\n    {k}={indented(repr(v))}" for k, v in sorted(kwargs.items()))
        return f"{type(self).__name__}({body}\n)"


class AtomicIDCounter:
    """Hands out 0, 1, 2, … safely from many threads."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def get_id(self) -> int:
        with self.lock:
            value = self.count
            self.count += 1
            return value


def setproctitle(title: str) -> None:
    """Sets the process title when the ``setproctitle`` package is installed; else nothing."""
    try:
        import setproctitle as spt
    except ImportError:
        return
    spt.setproctitle(title)


def sanitize_dns_label_rfc1123(raw_string: str) -> str:
    """``raw_string`` as a DNS label (RFC 1123): lower case, ``-`` for anything else, at most 63."""
    label = _core.dns_label(raw_string)
    if not label:
        # Parsl's words (its tests compare them)
        raise ValueError(f"Sanitized DNS label is empty for input '{raw_string}'")
    return label


def sanitize_dns_subdomain_rfc1123(raw_string: str) -> str:
    """``raw_string`` as a DNS subdomain (the rule that names the Kubernetes provider's
    pods): each dot-separated part a label, at most 253 characters in all. A part with
    nothing a label can hold is dropped (Parsl raises for it)."""
    subdomain = _core.dns_subdomain(raw_string)
    if not subdomain:
        raise ValueError(f"Sanitized DNS subdomain is empty for input '{raw_string}'")
    return subdomain


def execute_wait(cmd: str, walltime: Optional[float] = None) -> Tuple[int, str, str]:
    """Runs ``cmd`` in a shell; ``(exit code, stdout, stderr)``, exit code -1 after ``walltime`` s."""
    try:
        proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=walltime,
                              preexec_fn=os.setpgrp)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or '')
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or '')
        return -1, out, err
    return proc.returncode, proc.stdout, proc.stderr
