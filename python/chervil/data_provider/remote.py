"""HTTP(S) and FTP staging (Parsl's ``HTTPSeparateTaskStaging``,
``HTTPInTaskStaging``, ``FTPSeparateTaskStaging``, ``FTPInTaskStaging``).

Separate-task staging fetches the file in a task of its own on the same executor,
which the app then depends on (the executor's workers need a shared file system
with the app's). In-task staging fetches it inside the app's own task, just
before the app runs (no shared file system needed). Both use the standard
library's ``urllib``, so nothing more is installed; a failed fetch fails the
task with a :class:`StagingError` naming the URL.
"""
import functools
import os

from chervil.data_provider.staging import Staging, local_path_for
from chervil.data_provider.transfer import fetch


def _stage_in_task(working_dir, parent_fut=None, outputs=(), _parsl_staging_inhibit=True):
    file = outputs[0]
    fetch(file.url, file.local_path)


_stage_in_task.__name__ = 'stage_in'


def in_task_transfer_wrapper(func, file, working_dir):
    """``func`` preceded by fetching ``file`` to its local path (``working_dir`` made
    first, when given); keeps func's name, so memo hashes and logs still name the app."""
    url, local_path = file.url, file.local_path

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if working_dir:
            os.makedirs(working_dir, exist_ok=True)
        fetch(url, local_path)
        return func(*args, **kwargs)
    return wrapper


class _ByScheme(Staging):
    schemes: tuple = ()

    def can_stage_in(self, file) -> bool:
        return file.scheme in self.schemes


class _SeparateTask(_ByScheme):
    def stage_in(self, dm, executor, file, parent_fut):
        from chervil.app.python import PythonApp
        local_path_for(dm, executor, file)
        app = PythonApp(_stage_in_task, data_flow_kernel=dm.dfk, executors=[executor])
        fut = app(dm.dfk.executors[executor].working_dir, outputs=[file], _parsl_staging_inhibit=True,
                  parent_fut=parent_fut)
        return fut.outputs[0]


class _InTask(_ByScheme):
    def stage_in(self, dm, executor, file, parent_fut):
        local_path_for(dm, executor, file)
        return None

    def replace_task(self, dm, executor, file, func):
        return in_task_transfer_wrapper(func, file, None)


class HTTPSeparateTaskStaging(_SeparateTask):
    schemes = ('http', 'https')


class HTTPInTaskStaging(_InTask):
    schemes = ('http', 'https')


class FTPSeparateTaskStaging(_SeparateTask):
    schemes = ('ftp',)


class FTPInTaskStaging(_InTask):
    schemes = ('ftp',)
