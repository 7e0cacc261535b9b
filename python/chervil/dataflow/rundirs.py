"""Numbered run directories: runinfo/000, runinfo/001, …"""
import os
import re


def make_rundir(path: str) -> str:
    """Creates the next numbered directory under ``path`` and returns its absolute path.

    Safe when several workflows start at once in the same place: a number another
    process took first is skipped. The directory is private (0700): block scripts, job
    output and logs below it may carry the run's secret or the user's data. Set
    ``CHERVIL_RUN_DIR_MODE`` (octal, e.g. ``750``) to share it with a group.
    """
    given = os.environ.get('CHERVIL_RUN_DIR_MODE', '700')
    try:
        mode = int(given, 8)
    except ValueError:
        raise ValueError(f"CHERVIL_RUN_DIR_MODE={given!r} is not an octal mode: use e.g. 700 (private) "
                         "or 750 (readable by your group)") from None
    os.makedirs(path, exist_ok=True)
    numbers = [int(n) for n in os.listdir(path) if re.fullmatch(r"\d+", n)]
    nxt = max(numbers) + 1 if numbers else 0
    while True:
        candidate = os.path.join(path, f"{nxt:03d}")
        try:
            os.makedirs(candidate, mode=mode)
            os.chmod(candidate, mode)  # makedirs' mode passes through the umask
            return os.path.abspath(candidate)
        except FileExistsError:
            nxt += 1
