"""Parsl's ``toss3_llnl`` preset: Chervil cannot express it (it needs FluxExecutor)."""
from chervil.configs._unavailable import unavailable

raise unavailable('toss3_llnl', 'FluxExecutor')
