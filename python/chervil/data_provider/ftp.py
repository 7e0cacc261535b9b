"""``parsl.data_provider.ftp``: FTP staging (see :mod:`chervil.data_provider.remote`)."""
from chervil.data_provider.remote import FTPInTaskStaging, FTPSeparateTaskStaging

__all__ = ['FTPInTaskStaging', 'FTPSeparateTaskStaging']
