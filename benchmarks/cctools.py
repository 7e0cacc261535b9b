"""Work Queue and TaskVine on Chervil beside the same executors on Parsl, on this machine,
in the same run; prints JSON lines and then a Markdown table.

    python benchmarks/cctools.py [--tasks 200] [--parsl-python PATH]

Needs CCTools (`make cctools`) for both interpreters: `make bench` points Parsl's venv at
the same build. Each workload runs in a fresh process (benchmarks/cctools_workload.py).
"""
import argparse
import json
import os
import sys
import tempfile

from run import find_parsl, run_one

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, 'cctools_workload.py')
# Parsl runs `python3` and the CCTools programs from PATH: its venv (run_one puts it first)
# and the build.
CCTOOLS_BIN = os.path.join(os.path.dirname(HERE), 'build', 'cctools', 'bin')


def _times(x: float) -> str:
    return f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tasks', type=int, default=200)
    p.add_argument('--latency-tasks', type=int, default=20)
    p.add_argument('--parsl-python')
    p.add_argument('--no-parsl', action='store_true')
    a = p.parse_args()
    parsl = None if a.no_parsl else find_parsl(a.parsl_python)
    engines = [('chervil', [sys.executable, '-m', 'chervil', 'run', WORKLOAD])]
    if parsl:
        engines.append(('parsl', [parsl, WORKLOAD]))
    rows = []
    port = 9400
    with tempfile.TemporaryDirectory(prefix='chervil-cctools-bench-') as cwd:
        for kind in ('workqueue', 'taskvine'):
            for bench in ('noop', 'bash', 'latency'):
                n = a.latency_tasks if bench == 'latency' else a.tasks
                for engine, cmd in engines:
                    port += 1  # a port per run: a manager's port can linger in TIME_WAIT
                    r = run_one([*cmd, kind, bench, str(n), str(port)], cwd, extra_path=[CCTOOLS_BIN])
                    r['engine'] = engine
                    print(json.dumps(r), flush=True)
                    rows.append(r)
    print()
    print("| executor | workload (tasks) | Chervil | Parsl | Chervil ÷ Parsl |")
    print("|---|---|---|---|---|")
    for kind in ('workqueue', 'taskvine'):
        for bench in ('noop', 'bash', 'latency'):
            got = {r['engine']: r for r in rows if r['executor'] == kind and r['bench'] == bench}
            c, q = got.get('chervil'), got.get('parsl')
            if bench == 'latency':
                cv, qv = c['latency_ms_median'], q and q['latency_ms_median']
                cell = lambda v: f"{v:,.0f} ms" if v is not None else '—'  # noqa: E731
                ratio = _times(qv / cv) if qv else ''
            else:
                cv, qv = c['tasks_per_s'], q and q['tasks_per_s']
                cell = lambda v: f"{v:,.1f} tasks/s" if v is not None else '—'  # noqa: E731
                ratio = _times(cv / qv) if qv else ''
            print(f"| {kind} | {bench} ({c['tasks']}) | {cell(cv)} | {cell(qv)} | {ratio} |")


if __name__ == '__main__':
    main()
