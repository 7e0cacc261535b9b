"""The two fronts, one engine: the same workflow written once per front — 20 python apps,
one that fails (twice: the run allows one retry), one that depends on it, one that fails
its first try and succeeds on the retry, one bash app, on a HighThroughputExecutor with
two workers and resource monitoring — and the monitoring databases they write compared
row for row (tables, states, counts). The Rust side is examples/rust/monitored.rs,
which `make test-rust` builds and runs before the Python tests. Three more scenarios are
compared the same way, each with a Rust example of its own: a pool killed under its task
(examples/rust/killed_pool.rs), MPI tasks sharing a block on MPICH (mpi_tasks.rs), a
block on the real Slurm (slurm_block.rs), and files staged over rsync through a real sshd
(rsync_staging.rs)."""
import collections
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUST_EXAMPLE = os.path.join(ROOT, 'target', 'debug', 'examples', 'monitored')

PYTHON_WORKFLOW = textwrap.dedent("""
    import sys
    import parsl
    from parsl import bash_app, python_app
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider

    @python_app
    def add(a, b):
        return a + b

    @python_app(cache=True)
    def square(x):
        return x * x

    @python_app
    def fail(why):
        raise ValueError(why)

    @python_app
    def flaky(marker):
        import os
        if os.path.exists(marker):
            return 1
        open(marker, 'w').write('tried')
        raise ValueError('first try fails')

    @bash_app
    def greet():
        return "echo hello"

    config = Config(
        retries=1,
        checkpoint_mode='task_exit',
        executors=[HighThroughputExecutor(label='htex', max_workers_per_node=2, provider=LocalProvider())],
        monitoring=MonitoringHub(logging_endpoint='sqlite:///' + sys.argv[1], resource_monitoring_interval=1,
                                 workflow_name='fronts'))
    with parsl.load(config):
        total = sum(f.result() for f in [add(i, 1) for i in range(20)])
        squares = sum(f.result() for f in [square(i) for i in range(5)])
        failed = fail("on purpose")
        after = add(failed, 1)
        assert flaky(sys.argv[1] + '.flaky').result() == 1
        greet().result()
        assert failed.exception() is not None and after.exception() is not None
    print("sum", total, "squares", squares)
""")


def rows(db, sql):
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def summary(db):
    """What a run recorded, in terms both fronts must agree on (names of apps aside,
    which are each front's own functions)."""
    [(completed, failed, name)] = rows(db, "SELECT tasks_completed_count, tasks_failed_count, workflow_name "
                                           "FROM workflow")
    blocks = collections.defaultdict(list)
    for block, status in rows(db, "SELECT block_id, status FROM block ORDER BY timestamp, rowid"):
        blocks[block].append(status)
    states = collections.defaultdict(list)
    for task, state in rows(db, "SELECT task_id, task_status_name FROM status ORDER BY timestamp, rowid"):
        states[task].append(state)
    return {
        'workflow': (completed, failed, name),
        'tasks': rows(db, "SELECT count(*) FROM task")[0][0],
        'state sequences': sorted(collections.Counter(tuple(s) for s in states.values()).items()),
        'tries': rows(db, "SELECT count(*), count(hostname), count(task_try_time_running), "
                          "count(task_try_time_returned) FROM try")[0],
        'tries that failed': rows(db, "SELECT count(*) FROM try WHERE task_fail_history != ''")[0][0],
        'fail counts': sorted(rows(db, "SELECT task_fail_count, count(*) FROM task GROUP BY task_fail_count")),
        'tasks sampled': rows(db, "SELECT count(DISTINCT task_id) FROM resource")[0][0],
        'blocks first and last': {block: (seen[0], seen[-1]) for block, seen in blocks.items()},
        'active nodes with 2 workers': rows(db, "SELECT count(*) > 0 FROM node WHERE active = 1 "
                                                "AND worker_count = 2")[0][0],
    }


def run_fronts(rust_dir, py_dir, db, example=RUST_EXAMPLE, workflow=PYTHON_WORKFLOW, env=None):
    """One run of the workflow on each front, in its own directory (runs accumulate
    there, as checkpoints do), recorded in ``db``, with ``env`` added to each's
    environment; returns both summaries and outputs."""
    env = {**os.environ, **(env or {})}
    rust = subprocess.run([example, str(rust_dir / db)], cwd=rust_dir, capture_output=True,
                          text=True, timeout=300, env=env)
    assert rust.returncode == 0, rust.stderr[-3000:]
    script = py_dir / 'workflow.py'
    script.write_text(workflow)
    py = subprocess.run([sys.executable, '-m', 'chervil', 'run', '--no-progress', str(script),
                         str(py_dir / db)], cwd=py_dir, capture_output=True, text=True, timeout=300, env=env)
    assert py.returncode == 0, py.stderr[-3000:]
    return summary(str(py_dir / db)), summary(str(rust_dir / db)), py.stdout, rust.stdout


def built(example):
    if not os.path.exists(example):
        pytest.skip("the Rust example is not built: `make test-rust` (or `cargo build -p chervil --examples`) "
                    "builds it first")


def directories(tmp_path):
    rust_dir, py_dir = tmp_path / 'rust', tmp_path / 'python'
    rust_dir.mkdir()
    py_dir.mkdir()
    return rust_dir, py_dir


def compared(tmp_path, example, workflow, said, env=None):
    """Runs a scenario once on each front; checks each printed ``said`` (the Rust
    program spells booleans its way) and that their summaries match; returns the
    summary."""
    built(example)
    rust_dir, py_dir = directories(tmp_path)
    ours, theirs, py_out, rust_out = run_fronts(rust_dir, py_dir, 'monitoring.db', example, workflow, env)
    assert said in py_out and said.replace('True', 'true') in rust_out, (py_out, rust_out)
    assert ours == theirs
    return ours


def test_both_fronts_record_the_same_workflow_alike(tmp_path):
    built(RUST_EXAMPLE)
    rust_dir, py_dir = directories(tmp_path)
    ours, theirs, py_out, rust_out = run_fronts(rust_dir, py_dir, 'monitoring.db')
    assert 'sum 210 squares 30' in py_out and 'sum 210; squares 30' in rust_out
    assert ours == theirs
    # and what that is, so the comparison is not of two empty databases
    assert ours['workflow'] == (27, 1, 'fronts')
    assert ours['tasks'] == 29
    ran = ('pending', 'launched', 'running', 'running_ended')
    assert dict(ours['state sequences']) == {
        ran + ('exec_done',): 26,
        ran + ('fail_retryable',) + ran + ('exec_done',): 1,  # as Parsl: a retry goes back to pending
        ran + ('fail_retryable',) + ran + ('failed',): 1,
        ('pending', 'dep_fail'): 1,
    }
    assert ours['tries that failed'] == 4  # the failing app's two, the flaky one's first, the dependant's
    assert ours['fail counts'] == [(0, 26), (1, 2), (2, 1)]
    assert ours['tasks sampled'] == 28  # every task that ran
    assert ours['blocks first and last'] == {'0': ('PENDING', 'SCALED_IN')}

    # A second run resumes from the first's checkpoint (both fronts load every earlier
    # run's when checkpointing, as Parsl): the squares are memo hits, the rest runs again.
    ours, theirs, _, _ = run_fronts(rust_dir, py_dir, 'monitoring-2.db')
    assert ours == theirs
    assert dict(ours['state sequences'])[('pending', 'memo_done')] == 5
    assert ours['workflow'] == (22, 1, 'fronts'), "memo hits are not counted as completed, as Parsl's"


KILLED_POOL_EXAMPLE = os.path.join(ROOT, 'target', 'debug', 'examples', 'killed_pool')

KILLED_POOL_WORKFLOW = textwrap.dedent("""
    import sys
    import parsl
    from parsl import python_app
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider

    @python_app
    def add(a, b):
        return a + b

    @python_app
    def kills_its_pool(marker):
        import os, signal
        if os.path.exists(marker):
            return 1
        open(marker, 'w').write('killed')
        os.kill(os.getppid(), signal.SIGKILL)
        os._exit(1)  # the worker goes with its pool

    config = Config(
        retries=1,
        strategy_period=0.5,
        executors=[HighThroughputExecutor(label='htex', max_workers_per_node=1, block_error_handler=False,
                                          provider=LocalProvider(init_blocks=1, min_blocks=0, max_blocks=1))],
        monitoring=MonitoringHub(logging_endpoint='sqlite:///' + sys.argv[1], workflow_name='killed pool'))
    with parsl.load(config):
        before = sum(f.result() for f in [add(i, 1) for i in range(4)])
        survived = kills_its_pool(sys.argv[1] + '.killed').result()
        after = sum(f.result() for f in [add(i, 1) for i in range(4)])
    print(f"before {before}; survived {survived}; after {after}")
""")


def test_both_fronts_record_a_killed_pool_alike(tmp_path):
    """A task kills its own pool on its first try: on both fronts the try fails with
    ManagerLost (a retry, as Parsl), the block is FAILED, the strategy starts another
    (the run keeps going: block_error_handler=False), and the retry runs there."""
    ours = compared(tmp_path, KILLED_POOL_EXAMPLE, KILLED_POOL_WORKFLOW, 'before 10; survived 1; after 10')
    assert ours['workflow'] == (9, 0, 'killed pool')
    assert ours['tries that failed'] == 1
    assert ours['fail counts'] == [(0, 8), (1, 1)]
    assert ours['blocks first and last'] == {'0': ('PENDING', 'FAILED'), '1': ('PENDING', 'SCALED_IN')}
    ran = ('pending', 'launched', 'running', 'running_ended', 'exec_done')
    assert dict(ours['state sequences']) == {
        ran: 8,
        ('pending', 'launched', 'fail_retryable') + ran: 1,  # a lost try has no running row
    }


MPI_EXAMPLE = os.path.join(ROOT, 'target', 'debug', 'examples', 'mpi_tasks')

MPI_WORKFLOW = textwrap.dedent("""
    import socket
    import sys
    import parsl
    from parsl import bash_app, python_app
    from parsl.config import Config
    from parsl.executors import MPIExecutor
    from parsl.launchers import SimpleLauncher
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider

    @python_app
    def nodes_given(parsl_resource_specification=None):
        import os
        return len([n for n in os.environ.get('PARSL_MPI_NODELIST', '').split(',') if n])

    @bash_app
    def ranks(parsl_resource_specification=None):
        return "$PARSL_MPI_PREFIX sh -c 'echo hello; sleep 0.2'"

    nodefile = sys.argv[1] + '.nodes'
    with open(nodefile, 'w') as f:
        f.write(f"{socket.gethostname()}\\nlocalhost\\n127.0.0.1\\n")
    provider = LocalProvider(init_blocks=1, max_blocks=1, launcher=SimpleLauncher(),
                             worker_init=f'export PBS_NODEFILE={nodefile}')
    config = Config(
        executors=[MPIExecutor(label='mpi', max_workers_per_block=3, provider=provider)],
        monitoring=MonitoringHub(logging_endpoint='sqlite:///' + sys.argv[1], workflow_name='mpi'))
    on = lambda n: {'num_nodes': n, 'ranks_per_node': 1}
    with parsl.load(config):
        exit = ranks(parsl_resource_specification=on(2)).result()
        given = [f.result() for f in [nodes_given(parsl_resource_specification=on(n)) for n in (1, 2, 3, 1)]]
        too_many = {'num_nodes': 2, 'ranks_per_node': 2, 'num_ranks': 5}
        refused = nodes_given(parsl_resource_specification=too_many).exception() is not None
    print(f"ranks exit {exit}; nodes given {given}; refused {refused}")
""")


def test_both_fronts_record_mpi_tasks_alike(tmp_path):
    """MPI tasks sharing a block on the real MPICH (Parsl's MPIExecutor on the Python
    front, HighThroughputExecutor::mpi() on the Rust front), and a task whose
    specification cannot work, refused with InvalidResourceSpecification."""
    import shutil
    if shutil.which('mpiexec') is None:
        assert not os.environ.get('CI'), "MPICH is not installed (make system-deps installs mpich)"
        pytest.skip("MPICH is not installed (make system-deps installs mpich)")
    ours = compared(tmp_path, MPI_EXAMPLE, MPI_WORKFLOW, 'ranks exit 0; nodes given [1, 2, 3, 1]; refused True')
    assert ours['workflow'] == (5, 1, 'mpi')
    ran = ('pending', 'launched', 'running', 'running_ended', 'exec_done')
    assert dict(ours['state sequences']) == {ran: 5, ('pending', 'launched', 'failed'): 1}


SLURM_EXAMPLE = os.path.join(ROOT, 'target', 'debug', 'examples', 'slurm_block')

SLURM_WORKFLOW = textwrap.dedent("""
    import sys
    import parsl
    from parsl import python_app
    from parsl.config import Config
    from parsl.executors import HighThroughputExecutor
    from parsl.launchers import SingleNodeLauncher
    from parsl.monitoring import MonitoringHub
    from parsl.providers import SlurmProvider

    @python_app
    def job_of(x):
        import os
        return x, os.environ.get('SLURM_JOB_ID', '')

    @python_app
    def fail(why):
        raise ValueError(why)

    block = SlurmProvider(walltime='00:05:00', exclusive=False, launcher=SingleNodeLauncher(), init_blocks=1,
                          max_blocks=1)
    config = Config(
        retries=1,
        strategy='none',
        executors=[HighThroughputExecutor(label='slurm_htex', max_workers_per_node=1, provider=block)],
        monitoring=MonitoringHub(logging_endpoint='sqlite:///' + sys.argv[1], workflow_name='slurm'))
    with parsl.load(config):
        ran = [f.result() for f in [job_of(i) for i in range(10)]]
        jobs = {j for _, j in ran}
        failed = fail('on purpose').exception() is not None
    print(f"tasks {len(ran)}; jobs {len(jobs)}; in a job {'' not in jobs}; failed {failed}")
""")


def test_both_fronts_record_a_slurm_block_alike(tmp_path):
    """One block on the real Slurm (scripts/slurm-up.sh), ten tasks inside its job and
    one that fails twice (retries=1): the two databases agree, down to the block's
    first and last state (PENDING, and SCALED_IN at cleanup)."""
    from test_htex import _need
    _need(os.geteuid() == 0, "starting Slurm needs root")
    up = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'slurm-up.sh')], capture_output=True, text=True,
                        timeout=600)
    _need(up.returncode == 0, f"scripts/slurm-up.sh failed: {up.stderr[-2000:]}")
    ours = compared(tmp_path, SLURM_EXAMPLE, SLURM_WORKFLOW, 'tasks 10; jobs 1; in a job True; failed True')
    assert ours['workflow'] == (10, 1, 'slurm')
    assert ours['blocks first and last'] == {'0': ('PENDING', 'SCALED_IN')}
    ran = ('pending', 'launched', 'running', 'running_ended')
    assert dict(ours['state sequences']) == {
        ran + ('exec_done',): 10,
        ran + ('fail_retryable',) + ran + ('failed',): 1,
    }


RSYNC_EXAMPLE = os.path.join(ROOT, 'target', 'debug', 'examples', 'rsync_staging')

RSYNC_WORKFLOW = textwrap.dedent("""
    import os
    import sys
    import parsl
    from parsl import python_app
    from parsl.app.errors import MissingOutputs
    from parsl.config import Config
    from parsl.data_provider.files import File
    from parsl.data_provider.rsync import RSyncStaging
    from parsl.executors import HighThroughputExecutor
    from parsl.monitoring import MonitoringHub
    from parsl.providers import LocalProvider

    @python_app
    def shout(inputs=(), outputs=()):
        with open(inputs[0].filepath) as src, open(outputs[0].filepath, 'w') as dst:
            dst.write(src.read().upper())
        return outputs[0].filepath

    @python_app
    def words(f):
        with open(f.filepath) as src:
            return len(src.read().split())

    @python_app
    def forgets(outputs=()):
        return f"did not write {outputs[0]}"

    remote, work = os.environ['STAGE_REMOTE'], os.environ['STAGE_WORK']
    rsync = RSyncStaging(os.environ['STAGE_HOST'], rsh=os.environ['STAGE_RSH'].split())
    config = Config(
        executors=[HighThroughputExecutor(label='htex', max_workers_per_node=2, working_dir=work,
                                          storage_access=[rsync],
                                          provider=LocalProvider(init_blocks=1, max_blocks=1))],
        monitoring=MonitoringHub(logging_endpoint='sqlite:///' + sys.argv[1], workflow_name='rsync staging'))
    with parsl.load(config):
        shouted = shout(inputs=[File(remote + '/in.txt')], outputs=[File(remote + '/out.txt')])
        wrote = shouted.result()
        counted = words(shouted.outputs[0]).result()
        missing = isinstance(forgets(outputs=[File(remote + '/never.txt')]).exception(), MissingOutputs)
        absent = 'absent.txt' in str(words(File(remote + '/absent.txt')).exception())
    print(f"wrote {wrote}; words {counted}; missing outputs {missing}; absent input {absent}")
""")


def test_both_fronts_stage_files_over_rsync_alike(tmp_path, sshd):
    """Workers that do not share the client's files (Parsl's RSyncStaging), through a
    real sshd: an input copied in, the output the task wrote copied back to the client's
    host, read by the next task (copied in again), an output never written
    (MissingOutputs) and an input that is not there; on each front, with the same
    monitoring rows."""
    import shutil
    if shutil.which('rsync') is None:
        assert not os.environ.get('CI'), "rsync is not installed (make system-deps installs it)"
        pytest.skip("rsync is not installed (make system-deps installs it)")
    remote = tmp_path / 'remote'
    remote.mkdir()
    (remote / 'in.txt').write_text("quiet words")
    work = tmp_path / 'work'
    env = {'STAGE_HOST': '127.0.0.1', 'STAGE_REMOTE': str(remote), 'STAGE_WORK': str(work),
           'STAGE_RSH': ' '.join(['ssh', '-o', 'BatchMode=yes', *sshd])}
    ours = compared(tmp_path, RSYNC_EXAMPLE, RSYNC_WORKFLOW,
                    f'wrote {work}/out.txt; words 2; missing outputs True; absent input True', env)
    assert (remote / 'out.txt').read_text() == "QUIET WORDS", "the output went back to the client's host"
    assert (work / 'in.txt').read_text() == "quiet words", "the input was copied where the task ran"
    assert ours['workflow'][:2] == (2, 2)
