"""Parsl's ``vineex_local`` preset: Chervil cannot express it (it needs TaskVineExecutor)."""
from chervil.configs._unavailable import unavailable

raise unavailable('vineex_local', 'TaskVineExecutor')
