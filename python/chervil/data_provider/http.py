"""``parsl.data_provider.http``: HTTP(S) staging (see :mod:`chervil.data_provider.remote`)."""
from chervil.data_provider.remote import HTTPInTaskStaging, HTTPSeparateTaskStaging

__all__ = ['HTTPInTaskStaging', 'HTTPSeparateTaskStaging']
