"""Files inside zip archives (Parsl's ``ZipFileStaging``).

A ``zip:`` URL names an archive and a member: ``zip:/data/run.zip/inside/out.txt`` is
``inside/out.txt`` in ``/data/run.zip``. Stage-out writes the task's output into the
archive (created if missing) and removes the loose file; stage-in extracts the member
for the task. Both run as small tasks on the client's internal thread pool, holding an
exclusive lock on ``<archive>.lock`` (``fcntl``), so many tasks can add to one archive.
The lock only orders Chervil's own writers: another program editing the archive at the
same time is not stopped.
"""
import contextlib
import fcntl
import os
import zipfile
from typing import Iterator, Tuple

from chervil.data_provider.staging import Staging
from chervil.errors import ParslError


class ZipAuthorityError(ParslError):
    """A ``zip:`` URL with a host part (``zip://host/…``): archives are local paths only."""

    def __init__(self, file) -> None:
        super().__init__(file)
        self.file = file

    def __str__(self) -> str:
        return (f"ZipFileStaging cannot stage Files with an authority (netloc) section ({self.file.netloc}), "
                f"for {self.file.url}: write zip:/absolute/path/archive.zip/member")


def zip_path_split(path: str) -> Tuple[str, str]:
    """``'/a/b.zip/in/x.txt'`` → ``('/a/b.zip', 'in/x.txt')``."""
    index = path.find('.zip/')
    if index < 0:
        raise ValueError(f"{path!r} names no member of a .zip archive; write /path/archive.zip/member")
    return path[:index + 4], path[index + 5:]


@contextlib.contextmanager
def _locked(archive: str) -> Iterator[None]:
    os.makedirs(os.path.dirname(archive) or '.', exist_ok=True)
    with open(archive + '.lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _zip_stage_out(archive, member, working_dir, parent_fut=None, inputs=(), _parsl_staging_inhibit=True):
    loose = inputs[0]
    with _locked(archive):
        with zipfile.ZipFile(archive, mode='a', compression=zipfile.ZIP_DEFLATED) as z:
            z.write(loose, arcname=member)
    os.remove(loose)


def _zip_stage_in(archive, member, working_dir, *, parent_fut=None, outputs=(), _parsl_staging_inhibit=True):
    with _locked(archive):
        with zipfile.ZipFile(archive, mode='r') as z:
            content = z.read(member)
    with open(outputs[0], 'wb') as out:
        out.write(content)


class ZipFileStaging(Staging):
    def can_stage_in(self, file) -> bool:
        return self._is_zip(file)

    def can_stage_out(self, file) -> bool:
        return self._is_zip(file)

    @staticmethod
    def _is_zip(file) -> bool:
        if file.scheme != 'zip':
            return False
        if file.netloc != '':
            raise ZipAuthorityError(file)
        return True

    @staticmethod
    def _loose_path(dm, executor, file, make_dir: bool) -> Tuple[str, str, str]:
        archive, member = zip_path_split(file.path)
        working_dir = dm.dfk.executors[executor].working_dir or os.getcwd()
        file.local_path = os.path.join(working_dir, member)
        if make_dir:
            os.makedirs(os.path.dirname(file.local_path), exist_ok=True)
        return archive, member, working_dir

    @staticmethod
    def _internal_app(dm, func):
        from chervil.app.python import PythonApp
        from chervil.dataflow.dflow import INTERNAL_EXECUTOR
        return PythonApp(func, data_flow_kernel=dm.dfk, executors=[INTERNAL_EXECUTOR])

    def stage_out(self, dm, executor, file, app_fu):
        archive, member, working_dir = self._loose_path(dm, executor, file, make_dir=True)
        return self._internal_app(dm, _zip_stage_out)(archive, member, working_dir, inputs=[file],
                                                       _parsl_staging_inhibit=True, parent_fut=app_fu)

    def stage_in(self, dm, executor, file, parent_fut):
        archive, member, working_dir = self._loose_path(dm, executor, file, make_dir=False)
        fut = self._internal_app(dm, _zip_stage_in)(archive, member, working_dir, outputs=[file],
                                                     _parsl_staging_inhibit=True, parent_fut=parent_fut)
        return fut.outputs[0]
