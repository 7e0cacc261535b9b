"""``AdHocProvider``: blocks on a fixed list of hosts over SSH."""
from chervil.providers.ad_hoc.ad_hoc import AdHocProvider

__all__ = ['AdHocProvider']
