"""Parsl's ``ASPIRE1`` preset: Chervil cannot express it (it needs MonitoringHub (monitoring is not in Chervil yet))."""
from chervil.configs._unavailable import unavailable

raise unavailable('ASPIRE1', 'MonitoringHub (monitoring is not in Chervil yet)')
