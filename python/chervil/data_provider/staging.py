"""The staging provider interface (Parsl's ``parsl.data_provider.staging.Staging``).

A staging provider says which Files it moves (``can_stage_in``/``can_stage_out``,
usually by URL scheme) and how: as a separate task whose output the app then
depends on (``stage_in``/``stage_out`` return a future), or inside the app's own
task (``replace_task``/``replace_task_stage_out`` wrap the function). Executors
list theirs in ``storage_access``; without one, :data:`default_staging` applies.
"""
from typing import Any, Callable, Optional


class StagingError(Exception):
    """A file could not be moved; the message names the URL and what went wrong."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(url, problem)
        self.url, self.problem = url, problem

    def __str__(self) -> str:
        return f"could not stage {self.url}: {self.problem}"


class Staging:
    def can_stage_in(self, file) -> bool:
        return False

    def can_stage_out(self, file) -> bool:
        return False

    def stage_in(self, dm, executor: str, file, parent_fut) -> Optional[Any]:
        return None

    def stage_out(self, dm, executor: str, file, app_fu) -> Optional[Any]:
        return None

    def replace_task(self, dm, executor: str, file, func: Callable) -> Optional[Callable]:
        return None

    def replace_task_stage_out(self, dm, executor: str, file, func: Callable) -> Optional[Callable]:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def local_path_for(dm, executor: str, file) -> str:
    """Where a fetched file lands on the worker: the executor's working_dir, or the
    task's current directory."""
    working_dir = dm.dfk.executors[executor].working_dir
    file.local_path = file.filename if not working_dir else f"{working_dir.rstrip('/')}/{file.filename}"
    return file.local_path
