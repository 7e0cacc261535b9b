"""rsync staging over ssh (Parsl's ``RSyncStaging``): inside the app's task, input
``file://`` paths are copied from ``hostname`` before the app runs and ``outputs=``
are copied back after it, so the workers need no shared file system, only ssh
access to the submit host (a key set up in ``worker_init``, or ``rsh=`` with ssh's
options, a Chervil addition: ``rsh=['ssh', '-p', '2222', '-i', key]``)."""
import functools
import os
from typing import Optional, Sequence

from chervil.data_provider.staging import Staging, local_path_for
from chervil.data_provider.transfer import rsync


class RSyncStaging(Staging):
    def __init__(self, hostname: str, rsh: Optional[Sequence[str]] = None) -> None:
        self.hostname = hostname
        self.rsh = list(rsh or [])

    def __repr__(self) -> str:
        return f"RSyncStaging(hostname={self.hostname!r})"

    def can_stage_in(self, file) -> bool:
        return file.scheme == 'file'

    def can_stage_out(self, file) -> bool:
        return file.scheme == 'file'

    def _place(self, dm, executor, file) -> None:
        file.path = os.path.abspath(file.path)
        local_path_for(dm, executor, file)

    def stage_in(self, dm, executor, file, parent_fut):
        self._place(dm, executor, file)
        return None

    def stage_out(self, dm, executor, file, app_fu):
        self._place(dm, executor, file)
        return None

    def replace_task(self, dm, executor, file, func):
        return in_task_stage_in_wrapper(func, file, None, self.hostname, self.rsh)

    def replace_task_stage_out(self, dm, executor, file, func):
        return in_task_stage_out_wrapper(func, file, None, self.hostname, self.rsh)


def in_task_stage_in_wrapper(func, file, working_dir, hostname, rsh=None):
    """``func`` preceded by copying ``file`` from ``hostname`` (over ssh, or ``rsh``) to
    its local path, ``working_dir`` made first when given."""
    remote, local, rsh = f"{hostname}:{file.path}", file.local_path, list(rsh or [])

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if working_dir:
            os.makedirs(working_dir, exist_ok=True)
        rsync(remote, local, rsh)
        return func(*args, **kwargs)
    return wrapper


def in_task_stage_out_wrapper(func, file, working_dir, hostname, rsh=None):
    """``func`` followed by copying the ``file`` it wrote to ``hostname``; a file the app
    did not write fails the task (``MissingOutputs``)."""
    remote, local, rsh = f"{hostname}:{file.path}", file.local_path, list(rsh or [])

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if working_dir:
            os.makedirs(working_dir, exist_ok=True)
        result = func(*args, **kwargs)
        if not os.path.exists(local):
            from chervil.app.errors import MissingOutputs
            raise MissingOutputs(f"the app did not write {local}, so it cannot be sent to {remote}", [local])
        rsync(local, remote, rsh)
        return result
    return wrapper
