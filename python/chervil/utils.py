"""Helpers users import from ``parsl.utils``."""
import os
import threading
from glob import glob
from typing import List, Tuple

from chervil.app.errors import BadStdStreamFile


def get_std_fname_mode(fdname: str, stdfspec) -> Tuple[str, str]:
    """Reads a ``stdout=``/``stderr=`` spec: a path (appended to) or a ``(path, mode)`` pair."""
    if isinstance(stdfspec, (str, os.PathLike)):
        fname, mode = stdfspec, 'a+'
    elif isinstance(stdfspec, tuple):
        if len(stdfspec) != 2:
            raise BadStdStreamFile(f"std descriptor {fdname} has incorrect tuple length {len(stdfspec)}; "
                                   "give (path, mode), e.g. ('out.txt', 'w')")
        fname, mode = stdfspec
    else:
        raise BadStdStreamFile(f"{fdname}={stdfspec!r} is not a path, a (path, mode) tuple or a File")
    path = os.fspath(fname)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path, mode


def _checkpoint_dirs(rundir: str) -> List[str]:
    found = []
    runs = [r for r in glob(os.path.join(rundir, '[0-9]*')) if os.path.basename(r).isdigit()]
    # By number, not by name: run 1000 comes after run 999.
    for run in sorted(runs, key=lambda r: int(os.path.basename(r))):
        checkpoint = os.path.join(os.path.abspath(run), 'checkpoint')
        if os.path.isdir(checkpoint):
            found.append(checkpoint)
    return found


def get_all_checkpoints(rundir: str = "runinfo") -> List[str]:
    """The checkpoint directories of every earlier run under ``rundir``, oldest first."""
    return _checkpoint_dirs(rundir)


def get_last_checkpoint(rundir: str = "runinfo") -> List[str]:
    """The checkpoint directory of the latest run that has one (a list of 0 or 1)."""
    return _checkpoint_dirs(rundir)[-1:]


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
