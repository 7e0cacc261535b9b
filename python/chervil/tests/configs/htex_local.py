"""A HighThroughputExecutor with one block of worker processes on this machine."""
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.launchers import SimpleLauncher
from chervil.providers import LocalProvider


def fresh_config() -> Config:
    return Config(
        executors=[HighThroughputExecutor(label="htex_local", cores_per_worker=1, encrypted=True,
                                          provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                                 launcher=SimpleLauncher()))],
        strategy='none',
    )


config = fresh_config()
