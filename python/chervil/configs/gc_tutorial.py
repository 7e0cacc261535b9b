"""Parsl's ``gc_tutorial`` preset: Chervil cannot express it (it needs GlobusComputeExecutor)."""
from chervil.configs._unavailable import unavailable

raise unavailable('gc_tutorial', 'GlobusComputeExecutor')
