"""Parsl's ``wqex_local`` preset: Chervil cannot express it (it needs WorkQueueExecutor)."""
from chervil.configs._unavailable import unavailable

raise unavailable('wqex_local', 'WorkQueueExecutor')
