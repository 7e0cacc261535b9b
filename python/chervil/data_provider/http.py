"""``parsl.data_provider.http``: HTTP(S) staging (see :mod:`chervil.data_provider.remote`)."""
from chervil.data_provider.remote import HTTPInTaskStaging, HTTPSeparateTaskStaging, in_task_transfer_wrapper

__all__ = ['HTTPInTaskStaging', 'HTTPSeparateTaskStaging', 'in_task_transfer_wrapper']
