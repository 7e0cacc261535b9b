"""One benchmark workload, written against Parsl's API, in a process of its own.

    python workload.py BENCH TASKS                      # on Parsl
    python -m chervil run workload.py BENCH TASKS       # the same file on Chervil

Prints one JSON line. BENCH is one of: noop, fanin, chain, bash, latency, memory,
checkpoint (TASKS cached tasks with task_exit checkpoints, then a fresh DFK that
loads the checkpoint and asks for them all again: every one a memo hit), monitored
(noop with a MonitoringHub, resource_monitoring_interval=1; reports the rows the
database holds for the run afterwards), bash (also reports the floor: ``bash -c true``
from as many plain Python processes as workers, in the same run), and the scale
workloads of issue 14: submit (the client's time per app call, executor running),
pending (TASKS submitted before any is waited for: client memory per pending task),
flat (TASKS in batches of 10,000: the last batch's rate beside the first's, and peak
memory), and cpu (noop, reporting the
CPU time every process of the run spent on it: the client and everything it started —
interchange, pools, workers — read from /proc before and after, per task; a figure that
holds on a busy machine, where a rate does not), and large (TASKS round trips of a
100 MiB argument whose 100 MiB value comes back: MiB/s both ways, CPU per round trip
over every process, and the memory the run's processes hold afterwards beyond what
they held before).
The executor is the same for both: a HighThroughputExecutor with one LocalProvider
block of ``--workers`` worker processes.
"""
import argparse
import json
import resource
import statistics
import sys
import time

t_import = time.perf_counter()
import parsl  # noqa: E402  (under `chervil run`, this is Chervil)
from parsl import bash_app, python_app  # noqa: E402
from parsl.config import Config  # noqa: E402
from parsl.executors import HighThroughputExecutor  # noqa: E402
from parsl.providers import LocalProvider  # noqa: E402


@python_app
def noop():
    return None


@python_app
def echo(x):
    return x


@python_app(cache=True)
def cached_echo(x):
    return x


@python_app
def total(inputs=()):
    return len(inputs)


@bash_app
def true_cmd():
    return 'true'


def rss_mib() -> float:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2 ** 20


def process_tree_rss_mib() -> float:
    """Resident memory of this process and every process of the run (see
    ``process_tree_cpu``), summed: what the run holds."""
    import os
    pids = {pid for pid, _ in process_tree_cpu()}
    total = 0
    for pid in pids:
        try:
            with open(f'/proc/{pid}/statm') as f:
                total += int(f.read().split()[1])
        except OSError:
            pass
    return total * resource.getpagesize() / 2 ** 20


def process_tree_cpu() -> dict:
    """CPU seconds so far of each thread of this process, of every process whose command
    line names the run's directory (a pool that its block's shell left behind, as
    Parsl's are), and of their descendants, with its process's role: client (this
    process; Chervil's interchange is a thread of it), interchange (Parsl's own
    process), pool (a process that started workers), launcher (a block's shell script),
    worker."""
    import os
    ticks = os.sysconf('SC_CLK_TCK')
    run_dir = os.path.abspath(parsl.dfk().run_dir)
    todo, rows, seen = [os.getpid()], {}, set()
    for entry in os.listdir('/proc'):
        try:
            if entry.isdigit() and run_dir in open(f'/proc/{entry}/cmdline').read():
                todo.append(int(entry))
        except OSError:
            pass
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            cmd = open(f'/proc/{pid}/cmdline').read().replace('\0', ' ')
            threads = os.listdir(f'/proc/{pid}/task')
        except OSError:
            continue
        children, spent = [], {}
        for t in threads:
            try:
                children += [int(c) for c in open(f'/proc/{pid}/task/{t}/children').read().split()]
                stat = open(f'/proc/{pid}/task/{t}/stat').read()
            except OSError:
                continue
            fields = stat[stat.rindex(')') + 2:].split()
            spent[int(t)] = (int(fields[11]) + int(fields[12])) / ticks
        if pid == os.getpid():
            role = 'client'
        elif 'interchange' in cmd:
            role = 'interchange'
        elif 'pool' in cmd and children:
            role = 'pool'
        elif children:
            role = 'launcher'
        else:
            role = 'worker'
        rows.update({(pid, t): (role, secs) for t, secs in spent.items()})
        todo += children
    return rows


def cpu_between(before: dict, after: dict, n: int) -> dict:
    by_role: dict = {}
    for key, (role, secs) in after.items():
        spent = secs - before.get(key, (role, 0.0))[1]
        by_role[role] = by_role.get(role, 0.0) + spent
    total = sum(by_role.values())
    return {'cpu_us_per_task': round(total * 1e6 / n, 1),
            'cpu_us_by_role': {r: round(s * 1e6 / n, 1) for r, s in sorted(by_role.items()) if s > 0}}


def run(bench: str, n: int) -> dict:
    out: dict = {}
    start = time.perf_counter()
    if bench == 'cpu':
        before = process_tree_cpu()
        futures = [noop() for _ in range(n)]
        for f in futures:
            f.result()
        out.update(cpu_between(before, process_tree_cpu(), n))
    elif bench == 'large':
        # a 100 MiB argument out and the same 100 MiB back, one task at a time
        data = bytes(range(256)) * (100 * 2 ** 20 // 256)
        rss_before, before = process_tree_rss_mib(), process_tree_cpu()
        for _ in range(n):
            assert echo(data).result() == data
        out.update(cpu_between(before, process_tree_cpu(), n))
        out['mib_per_s'] = round(2 * 100 * n / (time.perf_counter() - start), 1)
        import gc
        gc.collect()
        out['rss_mib_kept'] = round(process_tree_rss_mib() - rss_before, 1)
    elif bench == 'noop':
        futures = [noop() for _ in range(n)]
        for f in futures:
            f.result()
    elif bench == 'fanin':
        assert total(inputs=[noop() for _ in range(n)]).result() == n
    elif bench == 'chain':
        f = echo(0)
        for _ in range(n - 1):
            f = echo(f)
        f.result()
    elif bench == 'bash':
        futures = [true_cmd() for _ in range(n)]
        for f in futures:
            assert f.result() == 0
    elif bench == 'latency':
        times = []
        for i in range(n):
            t = time.perf_counter()
            echo(i).result()
            times.append(time.perf_counter() - t)
        out['latency_ms_median'] = round(statistics.median(times) * 1000, 3)
        out['latency_ms_p95'] = round(sorted(times)[int(0.95 * n)] * 1000, 3)
    elif bench == 'memory':
        # the same batch five times: what the client keeps per finished task
        rss = []
        for _ in range(5):
            futures = [echo(i) for i in range(n)]
            for f in futures:
                f.result()
            del futures, f
            rss.append(rss_mib())
        out['rss_mib_per_round'] = [round(r, 1) for r in rss]
        out['bytes_kept_per_task'] = round((rss[-1] - rss[1]) * 2 ** 20 / (3 * n), 1)
    elif bench == 'submit':
        # the time spent inside the app calls, while the executor runs what came before
        t = time.perf_counter()
        futures = [noop() for _ in range(n)]
        out['submit_us_per_task'] = round((time.perf_counter() - t) * 1e6 / n, 1)
        for f in futures:
            f.result()
    elif bench == 'pending':
        before = rss_mib()
        futures = [noop() for _ in range(n)]
        out['bytes_per_pending_task'] = round((rss_mib() - before) * 2 ** 20 / n, 1)
        for f in futures:
            f.result()
    elif bench == 'flat':
        batch, rates = min(n, 10000), []
        for _ in range(max(1, n // batch)):
            t = time.perf_counter()
            futures = [noop() for _ in range(batch)]
            for f in futures:
                f.result()
            rates.append(batch / (time.perf_counter() - t))
        del futures, f
        out['first_batch_per_s'] = round(rates[0], 1)
        out['last_batch_per_s'] = round(rates[-1], 1)
        out['rss_mib_at_end'] = round(rss_mib(), 1)
        n = batch * len(rates)
    else:
        raise SystemExit(f"unknown benchmark {bench!r}")
    elapsed = time.perf_counter() - start
    tasks = 5 * n if bench == 'memory' else n + (1 if bench == 'fanin' else 0)
    out.update(seconds=round(elapsed, 3), tasks_per_s=round(tasks / elapsed, 1))
    return out


def recorded(url: str, run_id: str) -> dict:
    """What the monitoring database holds for the run: the proof that nothing was dropped."""
    import sqlite3
    with sqlite3.connect(url[len('sqlite:///'):]) as db:
        def count(table):
            return db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (run_id,)).fetchone()[0]
        sampled = db.execute("SELECT count(DISTINCT task_id) FROM resource WHERE run_id = ?", (run_id,)).fetchone()[0]
        return {'db_tasks': count('task'), 'db_tries': count('try'), 'db_status_rows': count('status'),
                'db_resource_rows': count('resource'), 'db_tasks_sampled': sampled}


def bash_floor(n: int, workers: int) -> float:
    """What this machine allows bash apps at best: ``bash -c true`` started and waited
    for by ``workers`` Python processes at once (subprocess.run, as a worker would), n in
    all, after the run (its pool idle): the rate a bash app cannot beat, measured in the
    same run as the bash workload, so the two are compared on the same machine state."""
    import subprocess
    loop = ("import subprocess, sys\n"
            "for _ in range(int(sys.argv[1])): subprocess.run(['/bin/bash', '-c', 'true'])")
    each = max(1, n // workers)
    t = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, '-c', loop, str(each)]) for _ in range(workers)]
    for p in procs:
        p.wait()
    return round(each * workers / (time.perf_counter() - t), 1)


def checkpoint_bench(n: int, workers: int) -> dict:
    """Writing: n cached tasks, each checkpointed as it exits. Resuming: a new DFK
    loads that checkpoint and the same n calls are all answered from it."""
    import os
    from parsl.dataflow.memoization import BasicMemoizer
    from parsl.utils import get_all_checkpoints
    run_dir = f"runinfo-ckpt-{os.getpid()}"

    def config(files):
        return Config(executors=[HighThroughputExecutor(label='htex', max_workers_per_node=workers,
                                                        provider=LocalProvider(init_blocks=1, max_blocks=1))],
                      strategy='none', run_dir=run_dir,
                      memoizer=BasicMemoizer(checkpoint_mode='task_exit', checkpoint_files=files))

    out: dict = {}
    for phase, files in (('write', None), ('resume', 'all')):
        dfk = parsl.load(config(get_all_checkpoints(run_dir) if files else []))
        try:
            echo(0).result()
            start = time.perf_counter()
            futures = [cached_echo(i) for i in range(n)]
            assert [f.result() for f in futures] == list(range(n))
            elapsed = time.perf_counter() - start
        finally:
            dfk.cleanup()
        out[f'{phase}_tasks_per_s'] = round(n / elapsed, 1)
    out['tasks_per_s'] = out['write_tasks_per_s']
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('bench')
    p.add_argument('tasks', type=int)
    p.add_argument('--workers', type=int, default=2)
    a = p.parse_args()
    engine = 'chervil' if 'chervil' in (parsl.__file__ or '') else 'parsl'
    if a.bench == 'checkpoint':
        t0 = time.perf_counter()
        result = checkpoint_bench(a.tasks, a.workers)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({'engine': engine, 'version': parsl.__version__, 'bench': a.bench, 'n': a.tasks,
                          'workers': a.workers, **result, 'seconds': round(time.perf_counter() - t0, 3),
                          'startup_s': None, 'peak_rss_mib': round(peak, 1)}), flush=True)
        return
    monitoring = None
    if a.bench == 'monitored':
        from parsl.monitoring import MonitoringHub
        monitoring = MonitoringHub(resource_monitoring_interval=1)
    config = Config(executors=[HighThroughputExecutor(label='htex', max_workers_per_node=a.workers,
                                                      provider=LocalProvider(init_blocks=1, max_blocks=1))],
                    strategy='none', monitoring=monitoring)
    t0 = time.perf_counter()
    dfk = parsl.load(config)
    echo(0).result()
    startup = time.perf_counter() - t0
    try:
        result = run('noop' if a.bench == 'monitored' else a.bench, a.tasks)
    finally:
        t_cleanup = time.perf_counter()
        dfk.cleanup()
        cleanup = time.perf_counter() - t_cleanup
    if monitoring is not None:
        result.update(recorded(monitoring.logging_endpoint, dfk.run_id))
    if a.bench == 'bash':
        result['floor_per_s'] = bash_floor(a.tasks, a.workers)
        result['pct_of_floor'] = round(100 * result['tasks_per_s'] / result['floor_per_s'], 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'engine': engine, 'version': parsl.__version__, 'bench': a.bench, 'n': a.tasks,
                      'workers': a.workers, **result, 'startup_s': round(startup, 3),
                      'cleanup_s': round(cleanup, 3), 'import_s': round(t0 - t_import, 3),
                      'peak_rss_mib': round(peak, 1)}), flush=True)


if __name__ == '__main__':
    sys.exit(main())
