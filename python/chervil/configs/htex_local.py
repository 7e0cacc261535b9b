"""A HighThroughputExecutor with one block of workers on this machine (one per core)."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import LocalProvider
from chervil.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[HighThroughputExecutor(label='htex_local', cores_per_worker=1,
                                      provider=LocalProvider(init_blocks=1, max_blocks=1))],
    usage_tracking=LEVEL_1,
)
