"""Connects Files in a task's arguments to the executor's staging providers
(Parsl's ``parsl.data_provider.data_manager``)."""
import logging
from typing import Any, Callable, List, Optional, Tuple

from chervil.app.futures import DataFuture
from chervil.data_provider.file_noop import NoOpFileStaging
from chervil.data_provider.files import File
from chervil.data_provider.remote import FTPSeparateTaskStaging, HTTPSeparateTaskStaging
from chervil.data_provider.staging import Staging
from chervil.data_provider.zip import ZipFileStaging

logger = logging.getLogger(__name__)

default_staging: List[Staging] = [NoOpFileStaging(), FTPSeparateTaskStaging(), HTTPSeparateTaskStaging(),
                                  ZipFileStaging()]


class DataManager:
    def __init__(self, dfk) -> None:
        self.dfk = dfk

    def _providers(self, executor: str) -> List[Staging]:
        access = getattr(self.dfk.executors[executor], 'storage_access', None)
        return list(access) if access is not None else default_staging

    def _first(self, executor: str, file: File, direction: str) -> Staging:
        for p in self._providers(executor):
            if (p.can_stage_in(file) if direction == 'in' else p.can_stage_out(file)):
                return p
        names = ', '.join(type(p).__name__ for p in self._providers(executor)) or 'none'
        raise ValueError(f"executor {executor!r} cannot stage {direction} {file.url!r}: none of its staging "
                         f"providers ({names}) handles scheme {file.scheme!r}; add one to its storage_access= "
                         "(e.g. HTTPInTaskStaging(), FTPInTaskStaging(), RSyncStaging(host))")

    def optionally_stage_in(self, value: Any, func: Callable, executor: str) -> Tuple[Any, Callable]:
        """A File (or a DataFuture of one) becomes what the task should get instead,
        and ``func`` perhaps a wrapper that fetches it first."""
        if isinstance(value, DataFuture):
            file = value.file_obj.cleancopy()
            parent: Optional[Any] = value
            value = DataFuture(value, file, tid=value.tid)
        elif isinstance(value, File):
            file = value.cleancopy()
            parent = None
            value = file
        else:
            return value, func
        provider = self._first(executor, file, 'in')
        staged = provider.stage_in(self, executor, file, parent)
        func = provider.replace_task(self, executor, file, func) or func
        return (staged if staged is not None else value), func

    def stage_out(self, file: File, executor: str, app_fu) -> Optional[Any]:
        return self._first(executor, file, 'out').stage_out(self, executor, file, app_fu)

    def replace_task_stage_out(self, file: File, func: Callable, executor: str) -> Callable:
        return self._first(executor, file, 'out').replace_task_stage_out(self, executor, file, func) or func
