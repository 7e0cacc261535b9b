"""A Parsl workflow whose apps live in mylib.py, run on a HighThroughputExecutor."""
import sys

import parsl
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

import mylib

config = Config(executors=[HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                                  provider=LocalProvider(init_blocks=1, max_blocks=1))],
                strategy='none', run_dir=sys.argv[1])

with parsl.load(config):
    print('squares', [f.result() for f in [mylib.square(i) for i in range(6)]])
    sample = mylib.make_sample(7).result()
    print('sample', type(sample).__module__, type(sample).__name__, sample.value, isinstance(sample, mylib.Sample))
    try:
        mylib.validate(-1).result()
    except mylib.ValidationError as e:
        print('caught', type(e).__module__, type(e).__name__, e)
    print('worker sees', *mylib.where().result())
    print('bash', mylib.echo('hi').result())
print('done')
