"""What to do when blocks fail (``parsl.jobs.error_handlers``).

An executor's ``block_error_handler`` is called with the executor and the status
of every block it has started, after each status poll. ``True`` means
:func:`simple_error_handler`, ``False`` :func:`noop_error_handler`; any function
with the same arguments may be given. The counting is the engine's
(``chervil-scaling``).
"""
from typing import Dict

from chervil import _core
from chervil.jobs.errors import TooManyJobFailuresError
from chervil.jobs.states import JobStatus


def noop_error_handler(executor, status: Dict[str, JobStatus], threshold: int = 3) -> None:
    """Never stops the executor; failed blocks are only replaced."""


def simple_error_handler(executor, status: Dict[str, JobStatus], threshold: int = 3) -> None:
    """Stops the executor when every block so far has failed, once there have been
    at least ``max(1, init_blocks)`` of them."""
    threshold = max(1, getattr(executor.provider, 'init_blocks', threshold))
    if _core.blocks_failed([int(s.state) for s in status.values()], threshold, windowed=False):
        executor.set_bad_state_and_fail_all(block_failures(status, "every block failed"))


def windowed_error_handler(executor, status: Dict[str, JobStatus], threshold: int = 3) -> None:
    """Stops the executor when the last ``threshold`` blocks started all failed."""
    ordered = [status[b] for b in sorted(status, key=_block_order)]
    if _core.blocks_failed([int(s.state) for s in ordered], threshold, windowed=True):
        executor.set_bad_state_and_fail_all(block_failures(status, f"the last {threshold} blocks failed"))


# Parsl's default stops the executor at the first all-blocks-failed poll; a run whose blocks can
# die for passing reasons (a killed pool, a lost node, a walltime) needs the other setting.
KEEP_GOING = ("This executor stopped because of its block_error_handler (True, the default, stops it "
              "once every block has failed). If blocks can fail for reasons that pass (a killed pool, a "
              "lost node, a walltime), give the executor block_error_handler=False: failed blocks are then "
              "replaced while tasks wait (up to max_blocks), and Config(retries=N) reruns the tasks a lost "
              "pool held.")


def _block_order(block_id: str):
    return (0, int(block_id), '') if block_id.isdigit() else (1, 0, block_id)


def block_failures(status: Dict[str, JobStatus], header: str) -> TooManyJobFailuresError:
    """One error naming each failed block, its scheduler message, exit code and the
    end of its stdout/stderr files (and where those files are), then the setting that
    keeps a run going. The text is the engine's (the Rust front's too)."""
    blocks = [(block, s.state.name.lower(), s.message, s.exit_code,
               [(name, path, tail or '') for name, path, tail in (('stdout', s.stdout_path, s.stdout_summary),
                                                                  ('stderr', s.stderr_path, s.stderr_summary))])
              for block, s in status.items() if s.terminal and s.state.name in ('FAILED', 'MISSING')]
    return TooManyJobFailuresError(f"{_core.block_failure_report(header, blocks)}\n{KEEP_GOING}")
