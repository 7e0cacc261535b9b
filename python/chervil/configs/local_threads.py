"""Threads in this process: the quickest way to try apps on a laptop."""
from chervil.config import Config
from chervil.executors.threads import ThreadPoolExecutor
from chervil.usage_tracking.levels import LEVEL_1

config = Config(executors=[ThreadPoolExecutor()], usage_tracking=LEVEL_1)
