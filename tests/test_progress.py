"""The live progress line, seen through a real pseudo-terminal, and never in redirected
output."""
import os
import pty
import select
import subprocess
import sys
import time

SCRIPT = """
import time, parsl
from parsl.config import Config
from parsl.executors import ThreadPoolExecutor

@parsl.python_app
def nap(i):
    import time
    time.sleep(0.05)
    return i

@parsl.python_app
def bad():
    raise ValueError('no')

with parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=4)], run_dir='runinfo')):
    futures = [nap(i) for i in range(60)] + [bad()]
    assert sum(f.result() for f in futures[:-1]) == sum(range(60))
    futures[-1].exception()
print('finished')
"""


def run_on_a_terminal(args, cwd, env):
    """Runs with stdout and stderr on a pseudo-terminal; returns all it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    out = b''
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(leader)
    assert proc.returncode == 0, out.decode(errors='replace')
    return out.decode(errors='replace')


def env_without_progress_setting():
    env = dict(os.environ)
    env.pop('CHERVIL_PROGRESS', None)
    return env


def test_chervil_run_draws_the_line_on_a_terminal(tmp_path):
    (tmp_path / 's.py').write_text(SCRIPT)
    out = run_on_a_terminal([sys.executable, '-m', 'chervil', 'run', 's.py'], tmp_path, env_without_progress_setting())
    assert 'finished' in out
    lines = [part for part in out.replace('\r\n', '\n').split('\r') if 'chervil:' in part]
    assert len(lines) >= 2, out  # redrawn in place while tasks run
    assert '\x1b[2K' in out, "each redraw clears the line first"
    final = [line for line in out.splitlines() if 'chervil:' in line][-1]
    assert '60 done · 1 failed · 0 launched · 0 pending' in final, final


def test_no_progress_flag_and_redirected_output(tmp_path):
    (tmp_path / 's.py').write_text(SCRIPT)
    out = run_on_a_terminal([sys.executable, '-m', 'chervil', 'run', '--no-progress', 's.py'], tmp_path,
                            env_without_progress_setting())
    assert 'finished' in out and 'chervil:' not in out
    # stderr to a file: never a progress line in it, even though it was asked for
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'run', 's.py'], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=dict(env_without_progress_setting(), CHERVIL_PROGRESS='1'))
    assert proc.returncode == 0 and 'finished' in proc.stdout
    assert 'chervil:' not in proc.stderr and '\x1b' not in proc.stderr


def test_any_script_can_ask_for_it(tmp_path):
    (tmp_path / 's.py').write_text(SCRIPT.replace('import time, parsl', 'import time, chervil as parsl')
                                   .replace('from parsl.', 'from chervil.'))
    out = run_on_a_terminal([sys.executable, 's.py'], tmp_path, dict(env_without_progress_setting(), CHERVIL_PROGRESS='1'))
    assert '60 done · 1 failed' in out
    out = run_on_a_terminal([sys.executable, 's.py'], tmp_path, env_without_progress_setting())
    assert 'chervil:' not in out, "off unless asked for, outside chervil run"
