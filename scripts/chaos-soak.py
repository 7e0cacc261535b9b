#!/usr/bin/env python3
"""The chaos soak: a workflow of mixed tasks on HTEX, run while faults rain on it.

    python scripts/chaos-soak.py [--tasks 100000] [--provider slurm|local] [--minutes 30]

The workflow (this file, run again with ``workflow``) submits python, bash, dependent
and join apps, memoized and checkpointed as each task exits, with retries on and
``block_error_handler=False`` so lost blocks are replaced. Each dependent task takes its
value through a relay that is not memoized, so the engine launches it itself (splicing
the value in; memoized tasks never are). Its run directory sits on a
small tmpfs of its own. While it runs, this driver, one fault at a time, in turns:

- kills a worker (SIGKILL, then SIGSEGV next time),
- kills a pool (SIGKILL), or stops one (SIGSTOP) past the heartbeat threshold, then
  lets it go on (SIGCONT) — it finds itself dropped and leaves,
- cancels a block (``scancel`` on Slurm; the block's process group on the local provider),
- sends garbage to the interchange port (random bytes, an absurd frame length, a
  connection that never speaks, a burst of connect-and-close),
- fills the run directory's file system for a few seconds (logs and checkpoints fail),

and once, past the middle, kills the client with SIGKILL, checks that every pool and
worker of that run leaves by itself, and starts the client again from its checkpoints.

It fails unless: every task's result is right, none is missing or failed; nothing that the
first client saw finish runs again in the second (it comes from the checkpoint); no task
is in a checkpoint twice; no process of either run is left, nor a Slurm job; the
client's file descriptors and memory stay flat. It prints its figures as JSON and a line
for the docs (docs/guide/htex.md). Processes are found by a marker in their environment and signalled by
pid, never by name. Needs root (tmpfs; Slurm via scripts/slurm-up.sh).
"""
import argparse
import errno
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARK = 'CHERVIL_SOAK_ID'
BATCH = 1000          # tasks submitted before the workflow waits; a multiple of the 5 kinds
HB_PERIOD, HB_THRESHOLD = 1, 3
POOL_GIVES_UP = 15  # address_probe_timeout: how long a pool tries to reach its interchange
FAULT_KINDS = ['worker-sigkill', 'worker-sigsegv', 'pool-sigkill', 'pool-sigstop', 'block-cancel', 'garbage',
               'disk-full']


# ------------------------------------------------------------------------------------------
# The workflow: the client that the driver kills and restarts.
# ------------------------------------------------------------------------------------------

def expected(i: int):
    kind = i % 5
    return {0: i * i, 1: f'{3 * i}', 2: (i - 2) ** 2 + i, 3: i * i + i, 4: -i}[kind]


def workflow(args) -> int:
    import time

    import chervil
    from chervil import bash_app, join_app, python_app
    from chervil.config import Config
    from chervil.dataflow.futures import AppFuture
    from chervil.executors import HighThroughputExecutor
    from chervil.launchers import SingleNodeLauncher
    from chervil.providers import LocalProvider, SlurmProvider
    from chervil.utils import get_all_checkpoints

    trace = os.path.join(args.out, 'executions.log')

    @python_app(cache=True)
    def square(i, trace):
        import os
        import random
        import time
        with open(trace, 'a') as f:
            f.write(f"{os.environ.get('CHERVIL_SOAK_RUN')} square {i}\n")
        time.sleep(random.random() / 500)
        return i * i

    @python_app(cache=True)
    def add(a, b):
        return a + b

    @python_app
    def relay(x):  # not memoized: launched by the engine as soon as x returns
        return x

    @python_app(cache=True)
    def slow(i):
        import time
        time.sleep(0.02)
        return -i

    @bash_app(cache=True)
    def shout(i, stdout=None):
        return f'echo {3 * i}'

    @join_app(cache=True)
    def pair(i, trace):
        return add(square(i, trace), i)

    blocks = dict(init_blocks=2, min_blocks=2, max_blocks=2)
    if args.provider == 'slurm':
        provider = SlurmProvider(launcher=SingleNodeLauncher(), exclusive=False, walltime='02:00:00', **blocks)
    else:
        provider = LocalProvider(**blocks)
    # A block the scheduler starts after its client died finds no interchange: its pool
    # gives up after address_probe_timeout (60 s by default), and only then does the job
    # end. The driver waits for the killed client's jobs to end (POOL_GIVES_UP).
    htex = HighThroughputExecutor(label='soak', provider=provider, max_workers_per_node=2,
                                  heartbeat_period=HB_PERIOD, heartbeat_threshold=HB_THRESHOLD,
                                  address_probe_timeout=POOL_GIVES_UP, block_error_handler=False)
    config = Config(executors=[htex], run_dir=args.run_dir, retries=10,
                    strategy_period=1, checkpoint_mode='task_exit',
                    checkpoint_files=get_all_checkpoints(args.run_dir))
    finished = open(os.path.join(args.out, f'finished-{args.run}.log'), 'a')
    stats = {'tasks': args.tasks, 'right': 0, 'wrong': [], 'failed': {}, 'from_memo': 0, 'retries': 0,
             'spliced': 0, 'rss_mib': [], 'fds': []}

    def sample(done):
        with open(f'/proc/{os.getpid()}/statm') as f:
            rss = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20
        stats['rss_mib'].append((done, round(rss, 1)))
        stats['fds'].append((done, len(os.listdir(f'/proc/{os.getpid()}/fd'))))

    status = os.path.join(args.out, 'status.json')
    with chervil.load(config) as dfk:
        ex = dfk.executors['soak']

        def publish(done):
            tmp = status + '.tmp'
            with open(tmp, 'w') as f:
                json.dump({'pid': os.getpid(), 'run': args.run, 'port': ex._ix.port, 'done': done,
                           'jobs': [j for j in ex.blocks_to_job_id.values() if j]}, f)
            os.replace(tmp, status)

        publish(0)
        done = 0
        gate = os.path.join(args.out, 'gate')
        for start in range(0, args.tasks, BATCH):
            if args.hold_at is not None and start == args.hold_at:
                while not os.path.exists(gate):  # the driver opens it once every fault has hit this run
                    time.sleep(0.1)
            futs, relays = {}, []
            for i in range(start, min(start + BATCH, args.tasks)):
                kind = i % 5
                if kind == 0:
                    futs[i] = square(i, trace)
                elif kind == 1:
                    futs[i] = shout(i, stdout=(os.path.join(args.out, 'bash', f'{i}.out'), 'w'))  # a retry rewrites it
                elif kind == 2:
                    relays.append(relay(futs[i - 2]))
                    futs[i] = add(relays[-1], i)
                elif kind == 3:
                    futs[i] = pair(i, trace)
                else:
                    futs[i] = slow(i)
            for i, fut in futs.items():
                try:
                    value = fut.result()
                    if i % 5 == 1:
                        with open(os.path.join(args.out, 'bash', f'{i}.out')) as f:
                            value = f.read().strip()
                    if value == expected(i):
                        stats['right'] += 1
                    else:
                        stats['wrong'].append((i, repr(value)))
                except Exception as e:  # noqa: BLE001 - counted and reported, the soak fails on it
                    stats['failed'][i] = f'{type(e).__name__}: {e}'[:300]
                stats['from_memo'] += bool(fut.task_record.get('from_memo'))
                stats['retries'] += fut.task_record.get('fail_count', 0)
            # A relay launched from its template still holds the future it waited on.
            stats['spliced'] += sum(isinstance(r.task_record['args'][0], AppFuture) for r in relays)
            done += len(futs)
            finished.write(''.join(f'{i}\n' for i in futs))
            finished.flush()
            sample(done)
            publish(done)
    with open(os.path.join(args.out, f'summary-{args.run}.json'), 'w') as f:
        json.dump(stats, f)
    return 0


# ------------------------------------------------------------------------------------------
# The driver: faults, the client kill and restart, the checks.
# ------------------------------------------------------------------------------------------

def marked(soak_id):
    """pid → argv of every process whose environment carries this soak's marker."""
    want = f'{MARK}={soak_id}'.encode()
    found = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/environ', 'rb') as f:
                if want not in f.read().split(b'\0'):
                    continue
            with open(f'/proc/{name}/cmdline', 'rb') as f:
                argv = [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
            with open(f'/proc/{name}/stat') as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    continue  # a zombie is already gone; its parent reaps it
        except OSError:
            continue
        found[int(name)] = argv
    return found


def pools(soak_id):
    return [p for p, argv in marked(soak_id).items() if 'chervil.pool' in argv]


def workers(soak_id):
    return [p for p, argv in marked(soak_id).items() if 'chervil.worker' in argv]


def signal_pid(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


class Driver:
    def __init__(self, args):
        self.args = args
        self.base = tempfile.mkdtemp(prefix='chervil-soak-')
        self.out = os.path.join(self.base, 'out')
        self.fs = os.path.join(self.base, 'runfs')
        self.run_dir = os.path.join(self.fs, 'runinfo')
        os.makedirs(os.path.join(self.out, 'bash'))
        os.makedirs(self.fs)
        self.id = uuid.uuid4().hex[:12]
        self.rng = random.Random(args.seed)
        self.faults = {}
        self.log = []
        self.client = None
        self.run = 0
        # Where client 1 waits for every kind of fault, a whole batch before it is killed.
        self.hold_at = max(BATCH, int(args.tasks * args.kill_at) // BATCH * BATCH - BATCH)
        self.filled_until = 0.0
        self.port = None

    def say(self, msg):
        line = f'[{time.strftime("%H:%M:%S")}] {msg}'
        self.log.append(line)
        print(line, flush=True)

    def count(self, fault):
        self.faults[fault] = self.faults.get(fault, 0) + 1

    # --- the client ---
    def start_client(self, run):
        env = dict(os.environ, **{MARK: f'{self.id}-{run}', 'CHERVIL_SOAK_RUN': str(run)})
        cmd = [sys.executable, os.path.abspath(__file__), 'workflow', '--tasks', str(self.args.tasks),
               '--provider', self.args.provider, '--run-dir', self.run_dir, '--out', self.out, '--run', str(run)]
        if run == 1:
            cmd += ['--hold-at', str(self.hold_at)]
        self.client = subprocess.Popen(cmd, env=env, stdout=open(os.path.join(self.out, f'client-{run}.out'), 'w'),
                                       stderr=subprocess.STDOUT)
        self.run = run
        self.say(f'client {run} started, pid {self.client.pid}')

    def status(self):
        try:
            with open(os.path.join(self.out, 'status.json')) as f:
                s = json.load(f)
        except (OSError, ValueError):
            return None
        return s if s.get('run') == self.run else None

    # --- faults ---
    def kill_worker(self, sig):
        ws = workers(f'{self.id}-{self.run}')
        if not ws:
            return False
        return signal_pid(self.rng.choice(ws), sig)

    def kill_pool(self):
        ps = pools(f'{self.id}-{self.run}')
        return bool(ps) and signal_pid(self.rng.choice(ps), signal.SIGKILL)

    def stop_pool(self):
        ps = pools(f'{self.id}-{self.run}')
        if not ps:
            return False
        pid = self.rng.choice(ps)
        if not signal_pid(pid, signal.SIGSTOP):
            return False
        time.sleep(HB_THRESHOLD + 1.5)  # past the threshold: the interchange must give it up
        signal_pid(pid, signal.SIGCONT)
        return True

    def cancel_block(self):
        if self.args.provider == 'slurm':
            s = self.status()
            jobs = s['jobs'] if s else []
            if not jobs:
                return False
            job = self.rng.choice(jobs)
            return subprocess.run(['scancel', str(job)], capture_output=True, timeout=30).returncode == 0
        ps = pools(f'{self.id}-{self.run}')
        if not ps:
            return False
        try:
            group = os.getpgid(self.rng.choice(ps))
        except ProcessLookupError:
            return False
        if group in (os.getpgid(0), os.getpgid(self.client.pid)):
            raise SystemExit('chaos-soak: a block shares the client\'s process group; refusing to signal it')
        os.killpg(group, signal.SIGTERM)
        return True

    def garbage(self):
        s = self.status()
        if not s:
            return False
        addr = ('127.0.0.1', s['port'])
        kind = self.rng.randrange(4)
        try:
            if kind == 0:
                with socket.create_connection(addr, timeout=5) as c:
                    c.sendall(os.urandom(self.rng.randrange(1, 65536)))
            elif kind == 1:
                with socket.create_connection(addr, timeout=5) as c:
                    c.sendall((2**31 - 1).to_bytes(4, 'big') + os.urandom(64))
            elif kind == 2:
                with socket.create_connection(addr, timeout=5):
                    time.sleep(2)
            else:
                for _ in range(50):
                    socket.create_connection(addr, timeout=5).close()
        except OSError:
            pass  # the interchange closing on us is the point
        self.count(f'garbage-{["random-bytes", "huge-frame-length", "silent-connection", "connect-burst"][kind]}')
        return True

    def fill_disk(self):
        filler = os.path.join(self.fs, 'filler')
        try:
            with open(filler, 'wb') as f:
                chunk = b'\0' * (1 << 20)
                while True:
                    f.write(chunk)
                    f.flush()
        except OSError as e:
            # ENOSPC at open: the run's own files had filled the disk already, which is
            # the fault this injects (it happened on a busy CI box)
            if e.errno != errno.ENOSPC:
                raise
        time.sleep(3)
        try:
            os.remove(filler)
        except FileNotFoundError:
            pass
        self.filled_until = time.time()
        return True

    def inject(self, kind):
        ok = {'worker-sigkill': lambda: self.kill_worker(signal.SIGKILL),
              'worker-sigsegv': lambda: self.kill_worker(signal.SIGSEGV),
              'pool-sigkill': self.kill_pool,
              'pool-sigstop': self.stop_pool,
              'block-cancel': self.cancel_block,
              'garbage': self.garbage,
              'disk-full': self.fill_disk}[kind]()
        if ok and kind != 'garbage':
            self.count(kind)
        return ok

    # --- the run ---
    def wait_gone(self, soak_id, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            left = marked(soak_id)
            if not left:
                return
            time.sleep(0.2)
        raise AssertionError(f'{what}: still running after {seconds} s: {left}')

    def our_jobs(self):
        if self.args.provider != 'slurm':
            return []
        out = subprocess.run(['squeue', '--noheader', '--format=%i %.200j'], capture_output=True, text=True, timeout=30)
        # The soak executor's blocks only (label 'soak'): other Chervil runs may share the cluster.
        return [line for line in out.stdout.splitlines() if line.split() and line.split()[-1].startswith('chervil.soak.')]

    def faults_until(self, stop, deadline):
        order = []
        while not stop() and self.status() is None:
            time.sleep(0.1)  # faults start once the client has loaded (a full disk at start-up is an error at load)
        while not stop():
            if time.time() > deadline:
                raise AssertionError(f'the soak did not finish within {self.args.minutes} minutes')
            if not order:
                order = FAULT_KINDS[:]
                self.rng.shuffle(order)
            kind = order.pop()
            if not self.inject(kind):
                order.insert(0, kind)  # nothing to hit yet (blocks starting): later
            time.sleep(self.args.fault_every * (0.5 + self.rng.random()))

    def mount(self):
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={self.args.fs_mib}m,mode=0700', 'tmpfs', self.fs],
                           capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f'chaos-soak: cannot mount a tmpfs for the run directory (needs root): {r.stderr.strip()}')

    def umount(self):
        if os.path.ismount(self.fs):
            keep = os.path.join(self.out, 'runinfo')
            if os.path.isdir(self.run_dir):  # the logs, for a look after the tmpfs is gone
                shutil.copytree(self.run_dir, keep, ignore=shutil.ignore_patterns('checkpoint'), dirs_exist_ok=True)
            subprocess.run(['umount', self.fs], check=False)

    def soak(self):
        a = self.args
        started = time.time()
        deadline = started + a.minutes * 60
        self.mount()
        try:
            if a.provider == 'slurm':
                subprocess.run(['bash', os.path.join(HERE, 'slurm-up.sh')], check=True, timeout=600)
            self.start_client(1)
            gate = os.path.join(self.out, 'gate')

            def first_should_die():
                # Client 1 waits at hold_at until every kind of fault has hit it, then goes
                # on; it dies one batch later, with the next batch in flight, and not while
                # the disk has just been full (a checkpoint write kept waiting would run again).
                s = self.status()
                if all(any(f.startswith(k) for f in self.faults) for k in FAULT_KINDS) and not os.path.exists(gate):
                    open(gate, 'w').close()
                return self.client.poll() is not None or (
                    s and s['done'] >= self.hold_at + BATCH and os.path.exists(gate)
                    and time.time() - self.filled_until > 1)
            self.faults_until(first_should_die, deadline)
            if self.client.poll() is not None:
                raise AssertionError(f'client 1 ended by itself (exit {self.client.returncode}) before it was killed; '
                                     f'see {self.out}/client-1.out')
            self.client.send_signal(signal.SIGKILL)
            self.client.wait()
            self.count('client-sigkill')
            self.say(f'client 1 killed at {self.status()["done"]} tasks done')
            self.wait_gone(f'{self.id}-1', HB_THRESHOLD + 20, 'processes of the killed client')
            # A job Slurm started just as the client died runs a pool that looks for the
            # interchange for POOL_GIVES_UP seconds (on a busy machine it starts late too).
            t = time.time()
            while self.our_jobs() and time.time() - t < POOL_GIVES_UP + 60:
                time.sleep(0.5)
            assert not self.our_jobs(), f'Slurm jobs of the killed client left: {self.our_jobs()}'
            self.say('every pool and worker of client 1 left by itself')
            self.start_client(2)
            self.faults_until(lambda: self.client.poll() is not None, deadline)
            assert self.client.returncode == 0, f'client 2 failed (exit {self.client.returncode}); see {self.out}/client-2.out'
            self.wait_gone(f'{self.id}-2', 30, 'processes after the run ended')
            assert not self.our_jobs(), f'Slurm jobs left after the run: {self.our_jobs()}'
            return self.check(time.time() - started)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):  # the clean-up runs to its end
                signal.signal(sig, signal.SIG_IGN)
            if self.client and self.client.poll() is None:
                self.client.kill()
            self.umount()

    def check(self, seconds):
        with open(os.path.join(self.out, 'summary-2.json')) as f:
            s = json.load(f)
        problems = []
        if s['right'] != self.args.tasks:
            problems.append(f"{s['right']} of {self.args.tasks} results right; wrong: {s['wrong'][:5]}, "
                            f"failed: {list(s['failed'].items())[:5]}")
        with open(os.path.join(self.out, 'finished-1.log')) as f:
            seen_by_first = {int(x) for x in f.read().split()}
        # Checkpointed before the first client saw them finish: the second takes them from there.
        if s['from_memo'] < len(seen_by_first):
            problems.append(f"{len(seen_by_first)} tasks finished in client 1 but only {s['from_memo']} came from "
                            f"its checkpoint in client 2")
        from chervil import _core
        checkpointed = {}
        for run, d in self._checkpoint_dirs():
            hashes = _core.checkpoint_hashes(d)
            dup = len(hashes) - len(set(hashes))
            checkpointed[run] = len(hashes)
            if dup:
                problems.append(f'{dup} tasks were checkpointed twice in run {run}')
        fds = [n for _, n in s['fds']]
        rss = [m for _, m in s['rss_mib']]
        quarter = max(1, len(fds) // 4)
        if max(fds[quarter:]) > max(fds[:quarter]) + 16:
            problems.append(f'client file descriptors grew: {fds}')
        # Every counted task is memoized, so the memo table grows by a hash and a result per task
        # (about 0.4 KiB); anything past 2 KiB a task is a leak.
        grown = max(rss[quarter:]) - max(rss[:quarter])
        tasks_since = s['rss_mib'][-1][0] - s['rss_mib'][quarter - 1][0]
        if grown > 32 + tasks_since * 2 / 1024:
            problems.append(f'client memory grew by {grown:.0f} MiB over {tasks_since} tasks: {rss} MiB')
        if not s['spliced']:
            problems.append('no relay was launched by the engine: the soak did not cover spliced launches')
        with open(os.path.join(self.out, 'executions.log')) as f:
            executions = sum(1 for _ in f)
        figures = {'tasks': self.args.tasks, 'provider': self.args.provider, 'seconds': round(seconds),
                   'faults': dict(sorted(self.faults.items())), 'faults_total': sum(self.faults.values()),
                   'finished_before_client_kill': len(seen_by_first), 'from_checkpoint_after_restart': s['from_memo'],
                   'retries_after_restart': s['retries'], 'spliced_after_restart': s['spliced'],
                   'checkpoint_records': checkpointed,
                   'traced_executions': executions, 'client_fds': [min(fds), max(fds)],
                   'client_rss_mib': [min(rss), max(rss)], 'problems': problems}
        print(json.dumps(figures))
        return figures

    def _checkpoint_dirs(self):
        from chervil.utils import get_all_checkpoints
        return [(os.path.basename(os.path.dirname(d)), d) for d in get_all_checkpoints(self.run_dir)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('mode', nargs='?', default='soak', choices=['soak', 'workflow'])
    p.add_argument('--tasks', type=int, default=100_000)
    p.add_argument('--provider', choices=['slurm', 'local'], default='slurm')
    p.add_argument('--minutes', type=float, default=30, help='the soak fails if it has not finished by then')
    p.add_argument('--fault-every', type=float, default=1.5, help='mean seconds between faults')
    p.add_argument('--kill-at', type=float, default=0.5, help='fraction of tasks done when client 1 is killed')
    p.add_argument('--fs-mib', type=int, default=256, help='size of the run directory\'s tmpfs')
    p.add_argument('--seed', type=int, default=None)
    p.add_argument('--keep', action='store_true', help='keep the scratch directory even when the soak passes')
    # workflow mode
    p.add_argument('--run-dir')
    p.add_argument('--out')
    p.add_argument('--run', type=int, default=1)
    p.add_argument('--hold-at', type=int, default=None)
    args = p.parse_args(argv)
    if args.tasks % BATCH or args.tasks < 3 * BATCH:
        p.error(f'--tasks must be a multiple of {BATCH}, at least {3 * BATCH}')
    if args.mode == 'workflow':
        return workflow(args)
    if args.seed is None:
        args.seed = random.randrange(2**32)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit('chaos-soak: terminated'))  # clean up as for Ctrl-C
    driver = Driver(args)
    print(f'chaos soak: {args.tasks} tasks on {args.provider}, seed {args.seed}, scratch {driver.base}', flush=True)
    figures = driver.soak()
    if figures['problems']:
        print('chaos soak FAILED:\n  ' + '\n  '.join(figures['problems']) + f'\n(scratch kept: {driver.base})')
        return 1
    print(f"chaos soak passed: {figures['tasks']} tasks, {figures['faults_total']} faults, "
          f"{figures['seconds']} s")
    if not args.keep:
        shutil.rmtree(driver.base, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
