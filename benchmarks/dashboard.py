"""How fast `chervil dashboard` answers for a large run: makes a monitoring database of
N tasks (default 100,000) with the real engine (thread pool, no-op apps), starts the
dashboard on it, and times each JSON route the workflow page calls (best of 3).

    python benchmarks/dashboard.py [--tasks 100000]

Prints one JSON line.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import chervil
from chervil.config import Config
from chervil.executors import ThreadPoolExecutor
from chervil.monitoring import MonitoringHub


@chervil.python_app
def noop(i):
    return i


def make_db(run_dir: str, n: int) -> str:
    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir, strategy='none',
                    monitoring=MonitoringHub(workflow_name='large'))
    with chervil.load(config) as dfk:
        futures = [noop(i) for i in range(n)]
        for f in futures:
            f.result()
        return dfk.run_id


def get(url: str) -> float:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        r.read()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tasks', type=int, default=100_000)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix='chervil-dash-bench-') as d:
        t = time.perf_counter()
        run = make_db(os.path.join(d, 'runinfo'), a.tasks)
        made = time.perf_counter() - t
        db = os.path.join(d, 'runinfo', 'monitoring.db')
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, '-m', 'chervil', 'dashboard', db, '--port', str(port)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            server.stdout.readline()  # "chervil dashboard: http://…" once it listens
            base = f'http://127.0.0.1:{port}'
            routes = {'workflows': '/api/workflows', 'workflow': f'/api/workflow/{run}',
                      'graph': f'/api/workflow/{run}/graph', 'task': f'/api/workflow/{run}/task/{a.tasks // 2}'}
            times = {name: round(min(get(base + path) for _ in range(3)), 3) for name, path in routes.items()}
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(json.dumps({'bench': 'dashboard', 'tasks': a.tasks, 'db_mib': round(os.path.getsize(db) / 2 ** 20, 1),
                          'made_s': round(made, 1), 'seconds': times,
                          'page_s': round(times['workflow'] + times['graph'], 3)}))


if __name__ == '__main__':
    main()
