"""``chervil perf``: how many tasks per second a configuration runs.

The same options as ``parsl-perf``: rounds of no-op tasks, each sized from the last
round's rate to take about ``--time`` seconds (``--iterate estimate``), doubling
(``exponential``), or given sizes (``--iterate 1000,10000``). Without ``--config``
it measures the default local HighThroughputExecutor. The last line is JSON.
"""
import argparse
import concurrent.futures as cf
import json
import runpy
import sys
import time

import chervil
from chervil import python_app


@python_app
def app(extra_payload, parsl_resource_specification={}):
    return 7


def validate_int_list(v: str):
    """``'1000,10000'`` as ``[1000, 10000]``; False if it is not such a list."""
    try:
        return [int(x) for x in v.split(',')]
    except ValueError:
        return False


def iteration_mode(value: str):
    """``--iterate``'s value: ``'estimate'``, ``'exponential'``, or a list of sizes."""
    if value in ('estimate', 'exponential'):
        return value
    sizes = validate_int_list(value)
    if sizes is False:
        raise argparse.ArgumentTypeError(f"--iterate {value!r}: give estimate, exponential or sizes like 1000,10000")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--iterate {value!r}: sizes must be whole numbers of at least 1")
    return sizes


def _load_config(path):
    if path is None:
        from chervil.config import Config
        from chervil.executors import HighThroughputExecutor
        return Config(executors=[HighThroughputExecutor(label='perf_htex')], strategy='none')
    namespace = runpy.run_path(path)
    if 'config' in namespace:
        return namespace['config']
    if 'fresh_config' in namespace:
        return namespace['fresh_config']()
    raise SystemExit(f"chervil perf: {path} defines neither `config` nor `fresh_config()`")


def load_dfk_from_config(filename: str):
    """Loads the DataFlowKernel for the configuration file ``filename`` (which defines
    ``config``, or ``fresh_config()``), as ``parsl-perf --config`` does."""
    return chervil.load(_load_config(filename))


def performance(target_t: float, args_extra_size: int, iterate, resources: dict) -> list:
    payload = 'x' * args_extra_size
    n = iterate[0] if isinstance(iterate, list) else 10
    rounds = []
    while True:
        start = time.perf_counter()
        futures = [app(payload, parsl_resource_specification=resources) for _ in range(n)]
        submitted = time.perf_counter()
        for f in cf.as_completed(futures):
            assert f.result() == 7
        elapsed = time.perf_counter() - start
        rate = n / elapsed
        rounds.append({'tasks': n, 'seconds': round(elapsed, 3), 'tasks_per_s': round(rate, 1),
                       'submit_per_s': round(n / max(submitted - start, 1e-9), 1)})
        print(f"round {len(rounds)}: {n} tasks in {elapsed:.3f} s = {rate:,.0f} tasks/s "
              f"(submitted at {rounds[-1]['submit_per_s']:,.0f}/s)", flush=True)
        if iterate == 'estimate':
            if elapsed >= 0.75 * target_t and len(rounds) >= 2:
                return rounds
            n = max(1, int(target_t * rate))
        elif iterate == 'exponential':
            if elapsed >= target_t and len(rounds) >= 2:
                return rounds
            n *= 2
        else:
            if len(rounds) == len(iterate):
                return rounds
            n = iterate[len(rounds)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog='chervil perf', description=__doc__.splitlines()[0])
    p.add_argument('--config', help="a Python file that defines `config` (default: a local HighThroughputExecutor)")
    p.add_argument('--time', type=float, default=120, help="target seconds for a round (default 120, as parsl-perf)")
    p.add_argument('--argsize', type=int, default=0, help="extra bytes in each task's arguments")
    p.add_argument('--iterate', type=iteration_mode, default='estimate', help="estimate, exponential, or sizes like 1000,10000")
    p.add_argument('--resources', default='{}', help="parsl_resource_specification, as a Python dict")
    a = p.parse_args(argv)
    try:
        import ast
        resources = ast.literal_eval(a.resources)
    except (ValueError, SyntaxError):
        p.error(f"--resources {a.resources!r} is not a Python dict literal")
    with chervil.load(_load_config(a.config)):
        rounds = performance(a.time, a.argsize, a.iterate, resources)
    print(json.dumps({'tool': 'chervil perf', 'version': chervil.__version__, 'rounds': rounds}))
    return 0


def cli_run() -> None:
    """The ``parsl-perf`` entry point's name for :func:`main`."""
    sys.exit(main())


if __name__ == '__main__':
    cli_run()
