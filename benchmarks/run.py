"""Runs every workload on Chervil and, when Parsl is installed, on Parsl, on this
machine, in the same run; prints JSON lines and then a Markdown table.

    python benchmarks/run.py [--tasks 10000] [--parsl-python PATH] [--only noop,chain]

Parsl is looked for in $CHERVIL_PARSL_PYTHON, then .venv-parsl/bin/python (``make
parsl-venv`` makes it). Each workload runs in a fresh process, so start-up time and
peak memory are the workload's own.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOAD = os.path.join(HERE, 'workload.py')
BENCHES = ('noop', 'fanin', 'chain', 'bash', 'latency', 'memory', 'checkpoint', 'monitored',
           'submit', 'pending', 'flat', 'cpu', 'large')
# Parsl runs ~1,000 tasks/s and holds ~5.5 KiB a pending task here: the scale workloads
# give it this many tasks at most (its rate and memory per task do not improve with more).
PARSL_SCALE_CAP = 20000


def find_parsl(given):
    for candidate in (given, os.environ.get('CHERVIL_PARSL_PYTHON'),
                      os.path.join(HERE, '..', '.venv-parsl', 'bin', 'python')):
        if candidate and os.access(candidate, os.X_OK):
            ok = subprocess.run([candidate, '-c', 'import parsl'], capture_output=True).returncode == 0
            if ok:
                return candidate
    return None


def run_one(cmd, cwd, extra_path=()):
    # each engine's own bin folder first: Parsl starts interchange.py and process_worker_pool.py from PATH
    path = [os.path.dirname(cmd[0]), *extra_path, os.environ.get('PATH', '')]
    env = dict(os.environ, PATH=os.pathsep.join(path))
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=1800, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith('{')]
    if out.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tasks', type=int, default=10000)
    p.add_argument('--latency-tasks', type=int, default=500)
    p.add_argument('--memory-tasks', type=int, default=2000, help="tasks per round of the memory workload (5 rounds)")
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--large-tasks', type=int, default=5, help="round trips of 100 MiB each way (large)")
    p.add_argument('--scale-tasks', type=int, default=1000000,
                   help="tasks of the flat workload (batches of 10,000); pending and submit take a tenth")
    p.add_argument('--rust-tasks', type=int, default=200000, help="no-op tasks of the Rust front's noop workload")
    p.add_argument('--no-rust', action='store_true', help="skip the Rust front's workloads")
    p.add_argument('--parsl-python')
    p.add_argument('--no-parsl', action='store_true')
    p.add_argument('--only', help="comma-separated workloads to run")
    a = p.parse_args()
    parsl = None if a.no_parsl else find_parsl(a.parsl_python)
    engines = [('chervil', [sys.executable, '-m', 'chervil', 'run', WORKLOAD])]
    if parsl:
        engines.append(('parsl', [parsl, WORKLOAD]))
    else:
        print("# Parsl not found: run `make parsl-venv` or pass --parsl-python to compare", file=sys.stderr)
    benches = a.only.split(',') if a.only else BENCHES
    rows = []
    with tempfile.TemporaryDirectory(prefix='chervil-bench-') as cwd:
        for bench in benches:
            # monitored: Parsl's resource monitoring runs ~40 tasks/s here, so fewer tasks
            n = {'latency': a.latency_tasks, 'memory': a.memory_tasks, 'checkpoint': min(a.tasks, 5000),
                 'monitored': min(a.tasks, 2000), 'flat': a.scale_tasks, 'pending': a.scale_tasks // 10,
                 'submit': a.scale_tasks // 10, 'large': a.large_tasks}.get(bench, a.tasks)
            for engine, cmd in engines:
                tasks = min(n, PARSL_SCALE_CAP) if engine == 'parsl' and bench in ('flat', 'pending', 'submit') else n
                r = run_one([*cmd, bench, str(tasks), '--workers', str(a.workers)], cwd)
                print(json.dumps(r), flush=True)
                rows.append(r)
        if not a.no_rust:
            rows.extend(run_rust(a, cwd))
    print_table(rows)
    print_rust_table(rows)


def run_rust(a, cwd):
    """The Rust front's workloads (benchmarks/rust_front.rs, built in release mode):
    no Python anywhere, the same interchange and pool."""
    root = os.path.dirname(HERE)
    build = subprocess.run(['cargo', 'build', '--release', '-q', '-p', 'chervil', '--example', 'rust_front'],
                           cwd=root, capture_output=True, text=True)
    if build.returncode != 0:
        print(f"# the Rust front's benchmark did not build:\n{build.stderr[-2000:]}", file=sys.stderr)
        return []
    exe = os.path.join(root, 'target', 'release', 'examples', 'rust_front')
    rows = []
    for bench, n, extra in (('noop', a.rust_tasks, []), ('noop', a.rust_tasks, ['--prefetch', '64']),
                            ('chain', 10000, []), ('latency', 2000, [])):
        r = run_one([exe, bench, str(n), '--workers', str(a.workers), *extra], cwd)
        r['bench'] = f"rust-{bench}" + ('-prefetch64' if extra else '')
        print(json.dumps(r), flush=True)
        rows.append(r)
    return rows


def print_rust_table(rows):
    rust = [r for r in rows if r['engine'] == 'chervil-rust']
    if not rust:
        return
    py = {r['bench']: r for r in rows if r['engine'] == 'chervil'}
    print()
    print("| Rust front workload | Rust front | Python front (same run) |")
    print("|---|---|---|")
    for r in rust:
        base = r['bench'].removeprefix('rust-').split('-')[0]
        q = py.get(base)
        if base == 'latency':
            ours, theirs = f"{r['latency_ms_median']} ms median", f"{q['latency_ms_median']} ms" if q else '-'
        else:
            ours, theirs = f"{r['tasks_per_s']:,.0f}/s", f"{q['tasks_per_s']:,.0f}/s ({q['n']})" if q else '-'
        print(f"| {r['bench']} ({r['n']}) | {ours} | {theirs} |")


def metric(r):
    if r['bench'] == 'latency':
        return f"{r['latency_ms_median']} ms"
    if r['bench'] == 'memory':
        return f"{r['bytes_kept_per_task']} B/task"
    if r['bench'] == 'checkpoint':
        return f"write {r['write_tasks_per_s']:,.0f}/s, resume {r['resume_tasks_per_s']:,.0f}/s"
    if r['bench'] == 'submit':
        return f"{r['submit_us_per_task']} µs/task ({r['tasks_per_s']:,.0f}/s)"
    if r['bench'] == 'pending':
        return f"{r['bytes_per_pending_task']:,.0f} B/pending task"
    if r['bench'] == 'flat':
        return (f"{r['tasks_per_s']:,.0f}/s; batches {r['first_batch_per_s']:,.0f} → {r['last_batch_per_s']:,.0f}/s; "
                f"end RSS {r['rss_mib_at_end']} MiB")
    if r['bench'] == 'large':
        return (f"{r['mib_per_s']:,.0f} MiB/s, {r['cpu_us_per_task'] / 1e6:.2f} s CPU a round trip, "
                f"{r['rss_mib_kept']:,.0f} MiB kept")
    if r['bench'] == 'cpu':
        parts = ', '.join(f"{role} {us:g}" for role, us in r['cpu_us_by_role'].items())
        return f"{r['cpu_us_per_task']:,} µs CPU/task ({parts})"
    if r['bench'] == 'bash' and r.get('floor_per_s'):
        return f"{r['tasks_per_s']:,.0f}/s ({r['pct_of_floor']:g} % of the {r['floor_per_s']:,.0f}/s floor)"
    if r['bench'] == 'monitored':
        return (f"{r['tasks_per_s']:,.0f}/s; db: {r['db_tasks']:,} tasks, {r['db_tries']:,} tries, "
                f"{r['db_status_rows']:,} states")
    return f"{r['tasks_per_s']:,.0f}/s"


def print_table(rows):
    by = {(r['bench'], r['engine']): r for r in rows}
    benches = list(dict.fromkeys(r['bench'] for r in rows))
    has_parsl = any(r['engine'] == 'parsl' for r in rows)
    print()
    print("| workload | Chervil | Parsl | × | Chervil start-up | Parsl start-up | Chervil peak RSS | Parsl peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for b in benches:
        c, q = by.get((b, 'chervil')), by.get((b, 'parsl')) if has_parsl else None
        if c is None:
            continue
        if q is None:
            ratio = ''
        elif b == 'latency':
            ratio = f"{q['latency_ms_median'] / c['latency_ms_median']:.0f}×"
        elif b in ('memory', 'pending'):
            ratio = ''
        elif b == 'submit':
            ratio = f"{q['submit_us_per_task'] / c['submit_us_per_task']:.0f}×"
        elif b == 'cpu':
            ratio = f"{q['cpu_us_per_task'] / c['cpu_us_per_task']:.0f}×"
        elif b == 'checkpoint':
            ratio = (f"{c['write_tasks_per_s'] / q['write_tasks_per_s']:.0f}× / "
                     f"{c['resume_tasks_per_s'] / q['resume_tasks_per_s']:.0f}×")
        else:
            ratio = f"{c['tasks_per_s'] / q['tasks_per_s']:.0f}×"
        def secs(r):
            return f"{r['startup_s']} s" if r and r.get('startup_s') is not None else '-'
        print(f"| {b} ({c['n']}) | {metric(c)} | {metric(q) if q else '-'} | {ratio} | {secs(c)} | {secs(q)} | "
              f"{c['peak_rss_mib']} MiB | {q['peak_rss_mib'] if q else '-'} MiB |")


if __name__ == '__main__':
    main()
