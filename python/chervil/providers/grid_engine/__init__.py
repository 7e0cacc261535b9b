"""``parsl.providers.grid_engine``."""
from chervil.providers.grid_engine.grid_engine import GridEngineProvider

__all__ = ['GridEngineProvider']
