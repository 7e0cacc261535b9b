"""Numbered run directories: runinfo/000, runinfo/001, …"""
from chervil import _core


def make_rundir(path: str) -> str:
    """Creates the next numbered directory under ``path`` and returns its absolute path.

    The engine's rule, the same for the Rust front: one past the highest number there,
    safe when several workflows start at once in the same place (a number another
    process took first is skipped). The directory is private (0700): block scripts, job
    output and logs below it may carry the run's secret or the user's data. Set
    ``CHERVIL_RUN_DIR_MODE`` (octal, e.g. ``750``) to share it with a group; a value
    that is not an octal mode is a ``ValueError``.
    """
    return _core.make_run_dir(path)
