"""The live progress line, seen through a real pseudo-terminal, and never in redirected
output."""
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
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


def run_on_a_terminal(args, cwd, env, columns=None):
    """Runs with stdout and stderr on a pseudo-terminal (``columns`` wide); returns all it wrote."""
    leader, follower = pty.openpty()
    if columns:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack('HHHH', 24, columns, 0, 0))
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
    assert '61 tasks in' in final and '1 failed' in final, final


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
    assert '61 tasks in' in out and '1 failed' in out
    out = run_on_a_terminal([sys.executable, 's.py'], tmp_path, env_without_progress_setting())
    assert 'chervil:' not in out, "off unless asked for, outside chervil run"


def screen_of(out, width):
    """What a terminal ``width`` columns wide shows after ``out`` (a small model of one:
    carriage return, newline, erase line, and wrapping after the last column)."""
    rows, r, c, wrap_due = [[]], 0, 0, False
    i = 0
    while i < len(out):
        ch = out[i]
        if ch == '\x1b':
            j = i + 2
            while j < len(out) and not out[j].isalpha():
                j += 1
            code = out[i:j + 1]
            if code == '\x1b[2K':
                rows[r] = []
            elif code == '\x1b[K':
                del rows[r][c:]
            i = j + 1
            continue
        if ch == '\r':
            c, wrap_due = 0, False
        elif ch == '\n':
            r, wrap_due = r + 1, False
            if r == len(rows):
                rows.append([])
        else:
            if wrap_due:
                r, c, wrap_due = r + 1, 0, False
                if r == len(rows):
                    rows.append([])
            row = rows[r]
            row.extend(' ' * (c + 1 - len(row)))
            row[c] = ch
            c += 1
            if c == width:
                c, wrap_due = width - 1, True
        i += 1
    return [''.join(row).rstrip() for row in rows]


INTERLEAVED = """
import logging, sys, time, parsl
from parsl.config import Config
from parsl.executors import ThreadPoolExecutor

# a stream handler made before the run, as parsl.set_stream_logger() makes one
log = logging.getLogger('script')
handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(logging.Formatter('%(message)s'))
log.addHandler(handler)
log.setLevel(logging.INFO)

@parsl.python_app
def nap(i):
    import time
    time.sleep(0.002)
    return i

with parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=4)], run_dir='runinfo')):
    for stage in range(4):
        futures = [nap(i) for i in range(1500)]
        time.sleep(0.6)  # the line is drawn meanwhile
        print(f'stage {stage} finished with {sum(f.result() for f in futures)}')
    print('a warning on stderr', file=sys.stderr)
    log.info('a log line')
    print('half a line', end='', flush=True)
    time.sleep(0.7)  # a tick while the row is half written: the line must wait
    print(' and its end')
print('script done')
"""


def test_the_line_fits_80_columns_and_steps_aside_for_the_scripts_output(tmp_path):
    (tmp_path / 's.py').write_text(INTERLEAVED)
    out = run_on_a_terminal([sys.executable, '-m', 'chervil', 'run', 's.py'], tmp_path,
                            env_without_progress_setting(), columns=80)
    rows = [row for row in screen_of(out, 80) if row]
    expected = [f'stage {i} finished with {sum(range(1500))}' for i in range(4)]
    expected += ['a warning on stderr', 'a log line', 'half a line and its end']
    # The script's own rows, whole and in order, each on a row of its own.
    assert [row for row in rows if not row.startswith('chervil:')][:len(expected)] == expected, "\n".join(rows)
    assert rows[-1] == 'script done', rows
    # No stale progress rows: the only progress text left on screen is the summary.
    progress_rows = [row for row in rows if 'done ·' in row or 'pending' in row or 'tasks in' in row]
    assert len(progress_rows) == 1, "\n".join(rows)
    assert progress_rows[0].startswith('chervil: 6,000 tasks in ') and '0 failed' in progress_rows[0], progress_rows
    # It was drawn while the stages ran, shortened to fit: never the full form's 80+ columns.
    drawn = [part.replace('\x1b[2K', '').split('\n')[0] for part in out.replace('\r\n', '\n').split('\r')]
    drawn = [part for part in drawn if 'done ·' in part or '✓' in part]
    assert drawn, out
    assert all(len(part) < 80 for part in drawn), [p for p in drawn if len(p) >= 80]


RUST_HELLO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          'target', 'debug', 'examples', 'hello')


def test_the_rust_front_draws_the_same_line_by_the_same_rule(tmp_path):
    import pytest
    if not os.path.exists(RUST_HELLO):
        pytest.skip("the Rust example is not built: `make test-rust` (or `cargo build -p chervil --examples`) "
                    "builds it first")
    out = run_on_a_terminal([RUST_HELLO], tmp_path, dict(env_without_progress_setting(), CHERVIL_PROGRESS='1'))
    assert 'Hello, World!' in out
    final = [line for line in out.splitlines() if 'chervil:' in line][-1]
    assert '2 tasks in' in final, out
    out = run_on_a_terminal([RUST_HELLO], tmp_path, env_without_progress_setting())
    assert 'Hello, World!' in out and 'chervil:' not in out, "off unless asked for, as on the Python front"
