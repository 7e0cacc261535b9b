"""Memoization and checkpoints: real runs, a real SIGKILL halfway, real files."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import pytest

import chervil
from chervil import _core, python_app
from chervil.config import Config
from chervil.data_provider.files import File
from chervil.dataflow.errors import BadCheckpoint
from chervil.dataflow.memoization import BasicMemoizer, id_for_memo
from chervil.dataflow.states import States
from chervil.errors import ConfigurationError
from chervil.executors import ThreadPoolExecutor
from chervil.utils import get_all_checkpoints, get_last_checkpoint
from test_htex import wait_until

TESTS = os.path.dirname(os.path.abspath(__file__))


@python_app(cache=True)
def counted(side, x, label=None):
    with open(side, 'a') as f:
        f.write(f"{x}\n")
    return x * 2


@python_app(cache=True, ignore_for_cache=['note'])
def noted(side, x, note=''):
    with open(side, 'a') as f:
        f.write(f"{x}\n")
    return x


@python_app(cache=True)
def fails(side):
    with open(side, 'a') as f:
        f.write("ran\n")
    raise ValueError("always")


def runs(side) -> int:
    return len(open(side).read().splitlines()) if os.path.exists(side) else 0


def test_same_call_twice_runs_once(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(Config(run_dir=str(tmp_path / 'runinfo'))):
        assert counted(side, 2).result() == 4
        second = counted(side, 2)
        assert second.result() == 4
        assert second.task_record['status'] == States.memo_done
        assert counted(side, 3).result() == 6
        assert counted(side, 2, label='other').result() == 4, "a different kwarg is a different call"
        assert noted(side, 5, note='a').result() == noted(side, 5, note='b').result() == 5
    assert runs(side) == 4


def test_failures_are_reused_within_the_run_not_retried(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(Config(run_dir=str(tmp_path / 'runinfo'), retries=2)):
        with pytest.raises(ValueError):
            fails(side).result()
        with pytest.raises(ValueError):
            fails(side).result()
    assert runs(side) == 3, "three tries the first time, none the second"


def test_files_hash_by_path_and_unknown_types_are_named(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(Config(run_dir=str(tmp_path / 'runinfo'))):
        assert noted(side, File('/data/a.txt')).result().url == '/data/a.txt'
        noted(side, File('/data/a.txt')).result()
        noted(side, File('/data/b.txt')).result()
        assert runs(side) == 2

        class Opaque:
            pass
        with pytest.raises(ValueError, match=r"id_for_memo.register\(Opaque\)"):
            noted(side, Opaque()).result()


def test_user_rules_for_their_own_types(tmp_path):
    class Sample:
        def __init__(self, name, scratch):
            self.name, self.scratch = name, scratch

    @id_for_memo.register(Sample)
    def _(s, output_ref=False):
        return s.name.encode()

    side = str(tmp_path / 'side')
    with chervil.load(Config(run_dir=str(tmp_path / 'runinfo'))):
        noted(side, Sample('x', 1)).result()
        noted(side, Sample('x', 2)).result()
    assert runs(side) == 1


def test_app_cache_off_runs_everything(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(Config(run_dir=str(tmp_path / 'runinfo'), app_cache=False)):
        counted(side, 1).result()
        counted(side, 1).result()
    assert runs(side) == 2


WORKFLOW = textwrap.dedent('''
    import os, sys, time
    import chervil
    from chervil import python_app
    from chervil.config import Config
    from chervil.dataflow.memoization import BasicMemoizer
    from chervil.executors import ThreadPoolExecutor
    from chervil.utils import get_all_checkpoints

    form, run_dir, side, tag = sys.argv[1:5]

    @python_app(cache=True)
    def step(i):
        with open(side, 'a') as f:
            f.write(f"{tag} {i}\\n")
        time.sleep(0.05)
        return i * i

    previous = get_all_checkpoints(run_dir)
    if form == 'legacy':
        config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                        checkpoint_mode='task_exit', checkpoint_files=previous)
    else:
        config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=run_dir,
                        memoizer=BasicMemoizer(checkpoint_mode='task_exit', checkpoint_files=previous))
    with chervil.load(config):
        print(sum(step(i).result() for i in range(40)), flush=True)
''')


@pytest.mark.parametrize('form', ['legacy', 'memoizer'])
def test_a_workflow_killed_halfway_reruns_only_unfinished_tasks(tmp_path, form):
    script = tmp_path / 'workflow.py'
    script.write_text(WORKFLOW)
    run_dir, side = str(tmp_path / 'runinfo'), str(tmp_path / 'side')
    first = subprocess.Popen([sys.executable, str(script), form, run_dir, side, 'first'], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: first.poll() is not None or runs(side) >= 20, 60, "half the workflow to run")
        assert first.poll() is None, f"the workflow ended early: {first.stderr.read().decode()[-2000:]}"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    saved = len(_core.load_checkpoints(get_all_checkpoints(run_dir)))
    assert saved >= 10, f"task_exit checkpointed only {saved} of the tasks that finished"
    second = subprocess.run([sys.executable, str(script), form, run_dir, side, 'second'],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip() == str(sum(i * i for i in range(40)))
    lines = [line.split() for line in open(side).read().splitlines()]
    rerun = [i for tag, i in lines if tag == 'second']
    assert len(rerun) == 40 - saved, "exactly the tasks without a checkpoint ran again"
    assert len(get_all_checkpoints(run_dir)) == 2 and get_last_checkpoint(run_dir) == get_all_checkpoints(run_dir)[-1:]


def _ckpt_config(tmp_path, mode, period=None, files=None):
    return Config(run_dir=str(tmp_path / 'runinfo'),
                  memoizer=BasicMemoizer(checkpoint_mode=mode, checkpoint_period=period, checkpoint_files=files))


def test_dfk_exit_and_manual_modes(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(_ckpt_config(tmp_path, 'dfk_exit')) as dfk:
        counted(side, 1).result()
        # The directory is there from the start (as in Parsl), empty until the end.
        assert len(_core.load_checkpoints(get_all_checkpoints(str(tmp_path / 'runinfo')))) == 0, \
            "nothing before the end"
    assert len(_core.load_checkpoints(get_all_checkpoints(str(tmp_path / 'runinfo')))) == 1
    with chervil.load(_ckpt_config(tmp_path, 'manual')) as dfk:
        assert counted(side, 1).result() == 2, "from the dfk_exit checkpoint"
        counted(side, 7).result()
        dfk.checkpoint()
        # The result carried from the first run is written again, so the last checkpoint alone has both.
        assert len(_core.load_checkpoints(get_last_checkpoint(str(tmp_path / 'runinfo')))) == 2
    assert runs(side) == 2


def test_periodic_mode_writes_on_its_own(tmp_path):
    side = str(tmp_path / 'side')
    with chervil.load(_ckpt_config(tmp_path, 'periodic', '00:00:01')):
        counted(side, 1).result()
        wait_until(lambda: get_all_checkpoints(str(tmp_path / 'runinfo')) and
                   len(_core.load_checkpoints(get_all_checkpoints(str(tmp_path / 'runinfo')))) == 1,
                   30, "the periodic checkpoint")


@pytest.mark.parametrize('damage', ['truncate', 'corrupt', 'foreign'])
def test_damaged_checkpoints_are_a_clear_error(tmp_path, damage):
    side = str(tmp_path / 'side')
    with chervil.load(_ckpt_config(tmp_path, 'task_exit')):
        counted(side, 1).result()
        counted(side, 2).result()
    [ckpt] = get_all_checkpoints(str(tmp_path / 'runinfo'))
    seg = os.path.join(ckpt, sorted(os.listdir(ckpt))[-1])
    data = open(seg, 'rb').read()
    data = {'truncate': data[:len(data) // 2], 'corrupt': data[:20] + bytes([data[20] ^ 0xFF]) + data[21:],
            'foreign': b'\x80\x04\x95 a Parsl pickle'}[damage]
    open(seg, 'wb').write(data)
    with pytest.raises(BadCheckpoint, match=os.path.basename(seg)) as e:
        chervil.load(_ckpt_config(tmp_path, 'task_exit'))
    assert 'damaged' in str(e.value)
    chervil.clear()


def test_checkpoint_settings_are_checked(tmp_path):
    with pytest.raises(ConfigurationError, match='checkpoint_period'):
        BasicMemoizer(checkpoint_mode='periodic')
    with pytest.raises(ConfigurationError, match='HH:MM:SS'):
        BasicMemoizer(checkpoint_mode='periodic', checkpoint_period='10 minutes')
    with pytest.raises(ConfigurationError, match='not both'):
        Config(memoizer=BasicMemoizer(), checkpoint_mode='task_exit')
    with pytest.raises(BadCheckpoint, match='does not exist'):
        chervil.load(_ckpt_config(tmp_path, None, files=[str(tmp_path / 'nowhere')]))
    chervil.clear()


def test_run_directories_sort_by_number(tmp_path):
    for run in ('998', '999', '1000'):
        os.makedirs(tmp_path / run / 'checkpoint')
    assert [os.path.basename(os.path.dirname(d)) for d in get_all_checkpoints(str(tmp_path))] == ['998', '999', '1000']
    assert get_last_checkpoint(str(tmp_path))[0].endswith(os.path.join('1000', 'checkpoint'))


PARSL_CAMPAIGN = textwrap.dedent('''
    import sys
    import parsl
    from parsl import python_app
    from parsl.config import Config
    from parsl.dataflow.memoization import BasicMemoizer
    from parsl.executors import ThreadPoolExecutor
    from parsl.utils import get_all_checkpoints

    run_dir, side, tag, count = sys.argv[1:5]

    @python_app(cache=True)
    def step(i, scale=1.0, tags=('a', 'b')):
        with open(side, 'a') as f:
            f.write(f"{tag} {i}\\n")
        return {'i': i, 'square': i * i * scale}

    config = Config(executors=[ThreadPoolExecutor()], run_dir=run_dir,
                    memoizer=BasicMemoizer(checkpoint_mode='task_exit', checkpoint_files=get_all_checkpoints(run_dir)))
    with parsl.load(config):
        print(sum(step(i, scale=2.0, tags=['x', {'k': None}]).result()['square'] for i in range(int(count))))
''')


def test_a_campaign_started_on_parsl_continues_on_chervil(tmp_path):
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    if not parsl_python:
        pytest.skip("CHERVIL_PARSL_PYTHON is not set: no Parsl to start the campaign (.ci/run sets it up)")
    script = tmp_path / 'campaign.py'
    script.write_text(PARSL_CAMPAIGN)
    run_dir, side = str(tmp_path / 'runinfo'), str(tmp_path / 'side')
    first = subprocess.run([parsl_python, str(script), run_dir, side, 'parsl', '10'], capture_output=True, text=True,
                           timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    second = subprocess.run([sys.executable, '-m', 'chervil', 'run', str(script), run_dir, side, 'chervil', '15'],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip() == str(sum(i * i * 2.0 for i in range(15)))
    rerun = [line.split()[1] for line in open(side).read().splitlines() if line.startswith('chervil')]
    assert sorted(map(int, rerun)) == list(range(10, 15)), "Parsl's ten results were taken from its tasks.pkl"


def test_a_damaged_parsl_checkpoint_is_named(tmp_path):
    ckpt = tmp_path / 'runinfo' / '000' / 'checkpoint'
    ckpt.mkdir(parents=True)
    good = pickle.dumps({'hash': 'abc', 'exception': None, 'result': 1})
    (ckpt / 'tasks.pkl').write_bytes(good + good[:7])
    with pytest.raises(BadCheckpoint, match=r"tasks\.pkl cannot be read after 1 records"):
        chervil.load(_ckpt_config(tmp_path, 'task_exit', files=[str(ckpt)]))
    chervil.clear()
