"""What monitoring costs: no-op HTEX tasks with and without
``MonitoringHub(resource_monitoring_interval=1)``, in alternating pairs of fresh
processes, so both sides of each pair see the same machine.

    python benchmarks/monitoring_overhead.py [--tasks 20000] [--pairs 5] [--parsl]

Prints each run as a JSON line, then each pair's ratio (with ÷ without) and their
median: the figure docs/guide/monitoring-details.md states. A single pair on a shared machine says little;
the median of the pairs is what to compare. ``--parsl`` runs the same pairs on Parsl
(slow: its resource monitoring runs a few dozen tasks a second here).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import WORKLOAD, find_parsl, run_one  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tasks', type=int, default=20000)
    p.add_argument('--pairs', type=int, default=5)
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--parsl', action='store_true', help="also measure Parsl the same way")
    a = p.parse_args()
    engines = [('chervil', [sys.executable, '-m', 'chervil', 'run', WORKLOAD])]
    if a.parsl:
        parsl = find_parsl(None)
        if parsl is None:
            raise SystemExit("Parsl not found: run `make parsl-venv`")
        engines.append(('parsl', [parsl, WORKLOAD]))
    summary = {}
    with tempfile.TemporaryDirectory(prefix='chervil-monbench-') as cwd:
        for engine, cmd in engines:
            ratios, sampled = [], []
            for i in range(a.pairs):
                # alternate which goes first, so neither always runs on a warmer machine
                order = ('noop', 'monitored') if i % 2 == 0 else ('monitored', 'noop')
                pair = {}
                for bench in order:
                    # a folder of its own: a database grown by earlier runs makes later ones slower
                    here = tempfile.mkdtemp(dir=cwd)
                    r = run_one([*cmd, bench, str(a.tasks), '--workers', str(a.workers)], here)
                    print(json.dumps(r), flush=True)
                    pair[bench] = r
                ratios.append(pair['monitored']['tasks_per_s'] / pair['noop']['tasks_per_s'])
                sampled.append(pair['monitored']['db_tasks_sampled'] / max(1, pair['monitored']['db_tasks']))
            summary[engine] = (ratios, sampled)
    print()
    for engine, (ratios, sampled) in summary.items():
        print(f"{engine}: with monitoring ÷ without, per pair: {', '.join(f'{r:.0%}' for r in ratios)}; "
              f"median {statistics.median(ratios):.0%} ({a.pairs} pairs of {a.tasks:,} no-op tasks, "
              f"{a.workers} workers); tasks with a resource sample: median {statistics.median(sampled):.1%}")


if __name__ == '__main__':
    sys.exit(main())
