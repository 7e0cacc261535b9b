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
        _transfer(source_ep, source_path, dest_ep, dest_path, label)

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


def _transfer(source_ep, source_path, dest_ep, dest_path, label) -> None:
    """One Globus transfer, waited for; a transfer that does not succeed is a StagingError."""
    import globus_sdk
    client = globus_sdk.TransferClient(authorizer=Globus.get_authorizer())
    data = globus_sdk.TransferData(client, source_ep, dest_ep, label=label, sync_level='checksum')
    data.add_item(source_path, dest_path)
    task = client.submit_transfer(data)['task_id']
    while not client.task_wait(task, timeout=60, polling_interval=5):
        pass
    status = client.get_task(task)['status']
    if status != 'SUCCEEDED':
        raise StagingError(f"globus://{source_ep}{source_path}", f"Globus transfer {task} ended {status}")


def _need_sdk(what: str) -> None:
    try:
        import globus_sdk  # noqa: F401
    except ImportError:
        raise ConfigurationError(f"{what} needs the globus_sdk package: pip install globus-sdk") from None


class Globus:
    """Parsl's Globus helper (``parsl.data_provider.globus.Globus``): transfers between
    endpoints. Chervil authorizes with a Transfer access token from the environment
    (``GLOBUS_TRANSFER_TOKEN``, e.g. from ``globus login`` and ``globus session show``)
    rather than Parsl's stored native-app tokens."""

    authorizer = None

    @classmethod
    def init(cls) -> None:
        _need_sdk("Globus")
        cls.authorizer = _authorizer()

    @classmethod
    def get_authorizer(cls):
        if cls.authorizer is None:
            cls.init()
        return cls.authorizer

    @classmethod
    def transfer_file(cls, src_ep, dst_ep, src_path, dst_path) -> None:
        _need_sdk("Globus.transfer_file")
        _transfer(src_ep, src_path, dst_ep, dst_path, 'chervil transfer')


def get_globus():
    """The Globus helper, authorized (raises, saying what is missing, if it cannot be)."""
    Globus.init()
    return Globus


def cli_run() -> None:
    """``parsl-globus-auth``'s job: in Parsl, a login stored for later runs. Chervil takes
    a token from the environment instead; this says how to get one and checks it."""
    import sys
    if not os.environ.get('GLOBUS_TRANSFER_TOKEN'):
        print("Chervil reads a Globus Transfer access token from GLOBUS_TRANSFER_TOKEN.\n"
              "With the Globus CLI: `globus login`, then export GLOBUS_TRANSFER_TOKEN=<the transfer.api.globus.org "
              "access token> (for instance from `globus session show` or your own app's token flow).",
              file=sys.stderr)
        sys.exit(1)
    get_globus()
    print("GLOBUS_TRANSFER_TOKEN is set; Globus staging will use it.")
