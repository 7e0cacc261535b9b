"""Threads in this process."""
from chervil.config import Config
from chervil.executors.threads import ThreadPoolExecutor


def fresh_config() -> Config:
    return Config(executors=[ThreadPoolExecutor()])


config = fresh_config()
