"""The run's rules, decided once in the engine (crates/chervil-run, the pool's worker
rule) and asked by both fronts: run directories, which checkpoints a run loads, how many
workers a block is expected to bring. The Rust front's side is in
crates/chervil/tests/threads.rs; these are the Python front's, on real directories, and
beside Parsl where Parsl decides the same thing."""
import json
import os
import subprocess
import textwrap

import pytest

from chervil.dataflow.rundirs import make_rundir
from chervil.executors import HighThroughputExecutor
from chervil.providers import LocalProvider, SlurmProvider
from chervil.utils import get_all_checkpoints, get_last_checkpoint


def test_run_directories_follow_the_highest_number_and_are_private(tmp_path, monkeypatch):
    old = os.umask(0o022)
    try:
        base = tmp_path / 'runinfo'
        (base / '041').mkdir(parents=True)
        (base / 'monitoring.db').write_text('')
        run = make_rundir(str(base))
        assert os.path.isabs(run) and os.path.basename(run) == '042'
        assert os.stat(run).st_mode & 0o777 == 0o700
        (base / '999').mkdir()
        assert os.path.basename(make_rundir(str(base))) == '1000'
        monkeypatch.setenv('CHERVIL_RUN_DIR_MODE', '750')
        assert os.stat(make_rundir(str(base))).st_mode & 0o777 == 0o750
        monkeypatch.setenv('CHERVIL_RUN_DIR_MODE', 'rwx')
        with pytest.raises(ValueError, match=r'CHERVIL_RUN_DIR_MODE="rwx".*octal.*700'):
            make_rundir(str(base))
    finally:
        os.umask(old)


def test_checkpoints_are_listed_by_run_number(tmp_path):
    for run in ('000', '002', '010', '999', '1000'):
        (tmp_path / run / 'checkpoint').mkdir(parents=True)
    (tmp_path / '002' / 'checkpoint').rmdir()
    found = get_all_checkpoints(str(tmp_path))
    assert [os.path.basename(os.path.dirname(d)) for d in found] == ['000', '010', '999', '1000']
    assert all(os.path.isabs(d) for d in found)
    assert get_last_checkpoint(str(tmp_path)) == found[-1:]
    assert get_all_checkpoints(str(tmp_path / 'missing')) == [] == get_last_checkpoint(str(tmp_path / 'missing'))


NODES = [
    # (HighThroughputExecutor settings, SlurmProvider settings, workers per node, per block)
    ({}, {}, 1, 1),                                            # nothing known: Parsl's guess
    ({'max_workers_per_node': 6}, {}, 6, 6),
    ({'cores_per_worker': 4}, {'cores_per_node': 48}, 12, 12),
    # No worker fits: Parsl expects 0 workers a block (its strategy then divides by
    # it); the pool says what to change when it starts, and scaling counts 1.
    ({'cores_per_worker': 64}, {'cores_per_node': 48}, 1, 1),
    ({'mem_per_worker': 10}, {'mem_per_node': 95}, 9, 9),
    ({'available_accelerators': 2}, {'cores_per_node': 48}, 2, 2),
    ({'cores_per_worker': 4}, {'cores_per_node': 48, 'nodes_per_block': 3}, 12, 36),
]


@pytest.mark.parametrize('htex, slurm, per_node, per_block', NODES)
def test_workers_a_block_is_expected_to_bring(htex, slurm, per_node, per_block):
    ex = HighThroughputExecutor(provider=SlurmProvider(**slurm), **htex)
    assert ex.workers_per_node == per_node
    assert ex._slots_per_block() == per_block


def test_local_blocks_bring_this_machines_workers():
    """Parsl guesses 1 for a local block; its node is this machine, so Chervil knows.
    A bound the user set (max_workers_per_node) or a figure they gave the provider
    stands, as in Parsl."""
    ex = HighThroughputExecutor(provider=LocalProvider(), cores_per_worker=0.5)
    assert ex.workers_per_node == 2 * os.cpu_count()
    assert HighThroughputExecutor(provider=LocalProvider(), max_workers_per_node=64).workers_per_node == 64
    told = LocalProvider()
    told.cores_per_node = 8
    assert HighThroughputExecutor(provider=told, cores_per_worker=4).workers_per_node == 2


# Parsl's workers_per_node is per node; the row where no worker fits is the difference above.
COMPARED = [n for n in NODES if 'nodes_per_block' not in n[1] and n[0].get('cores_per_worker') != 64]


def test_parsl_expects_the_same_workers_from_a_batch_node():
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    if not parsl_python:
        pytest.skip("CHERVIL_PARSL_PYTHON is not set: no Parsl to compare with (.ci/run sets it up)")
    script = textwrap.dedent(f"""
        import json
        from parsl.executors import HighThroughputExecutor
        from parsl.providers import SlurmProvider
        out = []
        for htex, slurm, _, _ in {COMPARED!r}:
            out.append(HighThroughputExecutor(provider=SlurmProvider(**slurm), **htex).workers_per_node)
        print(json.dumps(out))
    """)
    got = subprocess.run([parsl_python, '-c', script], capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr[-2000:]
    parsl = json.loads(got.stdout.splitlines()[-1])
    assert parsl == [n[2] for n in COMPARED]


# -- the seam: codes and errors come from the engine, not from copies ---------------

def test_the_fronts_states_are_the_engines():
    from chervil import _core
    from chervil.dataflow.states import States
    assert _core.task_states(), "the engine names its states"
    for name, value in _core.task_states().items():
        assert States[name].value == value, name


def test_engine_failures_have_their_own_classes():
    from chervil import _core
    for name in ('ProviderError', 'CheckpointError', 'InterchangeError', 'PoolError', 'KernelError',
                 'DashboardError'):
        cls = getattr(_core, name)
        assert issubclass(cls, _core.EngineError) and issubclass(cls, RuntimeError), name
    with pytest.raises(_core.CheckpointError):
        _core.load_checkpoints([os.devnull])


def test_a_providers_refusal_is_a_submit_exception_and_an_engine_bug_is_not(tmp_path, monkeypatch):
    """A real refusal (LSF's bsub is not on this machine) arrives as Parsl's
    SubmitException caused by the engine's ProviderError. Anything else the engine
    raises reaches the caller as itself: here a RuntimeError stands in for an engine
    bug (no real one to provoke), in place of the engine's job handle."""
    from chervil import _core
    from chervil.jobs.states import JobState
    from chervil.providers import LSFProvider
    from chervil.providers.errors import SubmitException

    monkeypatch.setenv('PATH', str(tmp_path))  # no bsub, whatever this machine has
    provider = LSFProvider()
    provider.script_dir = str(tmp_path)
    with pytest.raises(SubmitException, match="bsub") as raised:
        provider.submit('true', 1, 'block-0')
    assert isinstance(raised.value.__cause__, _core.ProviderError)

    class Buggy:
        def submit(self, *args):
            raise RuntimeError("engine bug")

    provider._jobs = Buggy()
    with pytest.raises(RuntimeError, match="engine bug") as raised:
        provider._submitted('block-0', JobState.PENDING, 'script', 'block-0')
    assert not isinstance(raised.value, SubmitException)
