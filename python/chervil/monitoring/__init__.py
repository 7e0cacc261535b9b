"""Monitoring (Parsl's ``parsl.monitoring``): ``Config(monitoring=MonitoringHub(...))``
records every task, try, state change and block of a run in Parsl's SQLite database."""
from chervil.monitoring.monitoring import MonitoringHub

__all__ = ['MonitoringHub']
