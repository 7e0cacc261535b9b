"""Threads, with results checkpointed at dfk_exit (memoization on)."""
from chervil.config import Config
from chervil.dataflow.memoization import BasicMemoizer
from chervil.executors.threads import ThreadPoolExecutor


def fresh_config() -> Config:
    return Config(executors=[ThreadPoolExecutor(label='local_threads_checkpoint_dfk_exit')],
                  memoizer=BasicMemoizer(checkpoint_mode='dfk_exit'))


config = fresh_config()
