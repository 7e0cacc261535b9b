"""``parsl.data_provider.ftp``: FTP staging (see :mod:`chervil.data_provider.remote`)."""
from chervil.data_provider.remote import FTPInTaskStaging, FTPSeparateTaskStaging, in_task_transfer_wrapper

__all__ = ['FTPInTaskStaging', 'FTPSeparateTaskStaging', 'in_task_transfer_wrapper']
