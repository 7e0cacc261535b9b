"""Parsl's ``gc_multisite`` preset: Chervil cannot express it (it needs GlobusComputeExecutor)."""
from chervil.configs._unavailable import unavailable

raise unavailable('gc_multisite', 'GlobusComputeExecutor')
