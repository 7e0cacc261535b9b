"""One Work Queue or TaskVine workload, written against Parsl's API, in a process of its own.

    python cctools_workload.py EXECUTOR BENCH TASKS                  # on Parsl
    python -m chervil run cctools_workload.py EXECUTOR BENCH TASKS   # the same file on Chervil

EXECUTOR: workqueue or taskvine (its 'provider' method), one LocalProvider block whose
worker offers 2 cores; each task asks for 1 core, so two run at once. BENCH: noop
(TASKS python apps returning None), bash (TASKS bash apps running `true`), latency (one
task at a time). Prints one JSON line. The `__main__` guard is for Parsl, whose manager
process re-runs the script (multiprocessing's spawn); Chervil does not need it.
"""
import json
import statistics
import sys
import time

from parsl import bash_app, python_app
from parsl.config import Config
from parsl.providers import LocalProvider

ONE_CORE = {'cores': 1, 'memory': 100, 'disk': 100}
WORKER = '--cores 2 --memory 2000 --disk 2000'


@python_app
def noop(parsl_resource_specification=None):
    return None


@bash_app
def true_cmd(parsl_resource_specification=None):
    return 'true'


def executor(kind: str, port: int):
    provider = LocalProvider(init_blocks=1, max_blocks=1)
    if kind == 'workqueue':
        from parsl.executors import WorkQueueExecutor
        return WorkQueueExecutor(port=port, provider=provider, worker_options=WORKER)
    from parsl.executors.taskvine import TaskVineExecutor, TaskVineFactoryConfig, TaskVineManagerConfig
    # A fixed port: with port=0 Parsl invents a project name and its workers need the catalog.
    return TaskVineExecutor(worker_launch_method='provider', provider=provider,
                            manager_config=TaskVineManagerConfig(port=port),
                            factory_config=TaskVineFactoryConfig(worker_options=WORKER))


def main() -> None:
    kind, bench, n, port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    import parsl
    engine = 'chervil' if parsl.__name__ == 'chervil' or 'chervil' in repr(parsl) else 'parsl'
    out = {'engine': engine, 'executor': kind, 'bench': bench, 'tasks': n}
    t0 = time.perf_counter()
    with parsl.load(Config(executors=[executor(kind, port)], strategy='none')):
        noop(parsl_resource_specification=ONE_CORE).result()  # the worker has connected
        out['startup_s'] = round(time.perf_counter() - t0, 2)
        start = time.perf_counter()
        if bench == 'noop':
            for f in [noop(parsl_resource_specification=ONE_CORE) for _ in range(n)]:
                f.result()
        elif bench == 'bash':
            for f in [true_cmd(parsl_resource_specification=ONE_CORE) for _ in range(n)]:
                assert f.result() == 0
        elif bench == 'latency':
            times = []
            for _ in range(n):
                t = time.perf_counter()
                noop(parsl_resource_specification=ONE_CORE).result()
                times.append(time.perf_counter() - t)
            out['latency_ms_median'] = round(statistics.median(times) * 1000, 1)
        elapsed = time.perf_counter() - start
    out['seconds'] = round(elapsed, 2)
    out['tasks_per_s'] = round(n / elapsed, 1)
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
