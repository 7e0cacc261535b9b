"""OpenStack clouds (``JetstreamProvider`` is Parsl's name for Jetstream's)."""
from chervil.providers.openstack.openstack import JetstreamProvider, OpenStackProvider

__all__ = ['OpenStackProvider', 'JetstreamProvider']
