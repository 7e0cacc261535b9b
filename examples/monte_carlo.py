"""Monte Carlo estimate of the integral of sin(x)/(x + cos²x) over [0, 1].

Each task averages the integrand at `samples` random points; `mean` joins the tasks'
estimates through `inputs=[...]`, so it runs once all of them are done. The exact
value is 0.36358 (to five places).

    python examples/monte_carlo.py [tasks] [samples-per-task]

It runs on a HighThroughputExecutor whose one block is a pool of worker processes on
this machine (LocalProvider), one worker per core: the same config, with another
provider, runs it on a cluster.
"""
import sys
import time

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.providers import LocalProvider

EXACT = 0.36358


@python_app
def estimate(samples, seed):
    import math
    import random
    rng = random.Random(seed)
    total = 0.0
    for _ in range(samples):
        x = rng.random()
        total += math.sin(x) / (x + math.cos(x) ** 2)
    return total / samples


@python_app
def mean(inputs=()):
    return sum(inputs) / len(inputs)


def local_config() -> Config:
    return Config(executors=[HighThroughputExecutor(label='local_htex', provider=LocalProvider())])


def main(tasks: int = 100, samples: int = 20_000, config=None) -> float:
    config = config or local_config()
    start = time.perf_counter()
    with chervil.load(config):
        parts = [estimate(samples, seed) for seed in range(tasks)]
        result = mean(inputs=parts).result()
    elapsed = time.perf_counter() - start
    print(f"estimate {result:.5f} from {tasks} tasks x {samples} samples in {elapsed:.2f} s; "
          f"exact {EXACT}, error {abs(result - EXACT):.5f}")
    return result


if __name__ == '__main__':
    main(*(int(a) for a in sys.argv[1:3]))
