"""Globus staging (Parsl's ``GlobusStaging``), through the Globus Transfer API
(``globus_sdk``, installed separately: ``pip install globus-sdk``).

Not exercised here: there is no Globus endpoint to reach from this machine. The
class takes Parsl's parameters and, when ``globus_sdk`` is missing, says so at
configuration time rather than mid-run.
"""
import os
from typing import Optional

from chervil.data_provider.staging import Staging, StagingError
from chervil.errors import ConfigurationError


class GlobusStaging(Staging):
    """Files ``globus://<endpoint>/<path>`` are moved by Globus transfers between
    their endpoint and ``endpoint_uuid`` (the executor's side, seen locally under
    ``endpoint_path`` at ``local_path``)."""

    def __init__(self, endpoint_uuid: str, endpoint_path: Optional[str] = None,
                 local_path: Optional[str] = None) -> None:
        try:
            import globus_sdk  # noqa: F401
        except ImportError:
            raise ConfigurationError("GlobusStaging needs the globus_sdk package: pip install globus-sdk") from None
        self.endpoint_uuid, self.endpoint_path, self.local_path = endpoint_uuid, endpoint_path, local_path

    def can_stage_in(self, file) -> bool:
        return file.scheme == 'globus'

    def can_stage_out(self, file) -> bool:
        return file.scheme == 'globus'

    def _paths(self, file):
        working = self.local_path or os.getcwd()
        file.local_path = os.path.join(working, file.filename)
        return os.path.join(self.endpoint_path or working, file.filename)

    def _transfer(self, source_ep, source_path, dest_ep, dest_path, label) -> None:
        import globus_sdk
        client = globus_sdk.TransferClient(authorizer=_authorizer())
        data = globus_sdk.TransferData(client, source_ep, dest_ep, label=label, sync_level='checksum')
        data.add_item(source_path, dest_path)
        task = client.submit_transfer(data)['task_id']
        while not client.task_wait(task, timeout=60, polling_interval=5):
            pass
        status = client.get_task(task)['status']
        if status != 'SUCCEEDED':
            raise StagingError(f"globus://{source_ep}{source_path}", f"Globus transfer {task} ended {status}")

    def stage_in(self, dm, executor, file, parent_fut):
        from chervil.app.python import PythonApp
        dest = self._paths(file)

        def globus_stage_in(outputs=(), _parsl_staging_inhibit=True, parent_fut=None):
            self._transfer(file.netloc, file.path, self.endpoint_uuid, dest, 'chervil stage in')
        app = PythonApp(globus_stage_in, data_flow_kernel=dm.dfk, executors=['_parsl_internal'])
        return app(outputs=[file], _parsl_staging_inhibit=True, parent_fut=parent_fut).outputs[0]

    def stage_out(self, dm, executor, file, app_fu):
        from chervil.app.python import PythonApp
        source = self._paths(file)

        def globus_stage_out(app_fu, _parsl_staging_inhibit=True):
            self._transfer(self.endpoint_uuid, source, file.netloc, file.path, 'chervil stage out')
        app = PythonApp(globus_stage_out, data_flow_kernel=dm.dfk, executors=['_parsl_internal'])
        return app(app_fu, _parsl_staging_inhibit=True)


def _authorizer():
    import globus_sdk
    token = os.environ.get('GLOBUS_TRANSFER_TOKEN')
    if not token:
        raise StagingError('globus://', "set GLOBUS_TRANSFER_TOKEN to a Globus Transfer access token")
    return globus_sdk.AccessTokenAuthorizer(token)
