"""Multiprocessing helpers (``parsl.multiprocessing``): contexts by start method, and a
process ender that grows firmer. Chervil itself starts no Python processes this way
(pools and workers are started by the engine); these are for scripts and plugins that
used Parsl's."""
import logging
import multiprocessing
from multiprocessing.context import SpawnProcess as SpawnProcessType

logger = logging.getLogger(__name__)

ForkContext = multiprocessing.get_context("fork")
SpawnContext = multiprocessing.get_context("spawn")
ForkProcess = ForkContext.Process
SpawnProcess = SpawnContext.Process
SpawnEvent = SpawnContext.Event
SpawnQueue = SpawnContext.Queue


def join_terminate_close_proc(process: SpawnProcessType, *, timeout: int = 30) -> None:
    """Waits up to ``timeout`` seconds for ``process`` to end; then terminates it (SIGTERM),
    then kills it (SIGKILL), waiting as long again each time; closes it once it has
    ended. At most three timeouts in all."""
    process.join(timeout)
    for stop, how in ((process.terminate, "terminating"), (process.kill, "killing")):
        if not process.is_alive():
            break
        logger.error("process %s did not end within %s s: %s it", process.pid, timeout, how)
        stop()
        process.join(timeout)
    if process.is_alive():
        logger.error("process %s failed to end", process.pid)
    else:
        process.close()
