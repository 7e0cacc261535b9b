"""What a user does first with a freshly installed wheel, on any CPython it supports:
python apps on threads and on HTEX (real pools started from the wheel's own `chervil-pool`),
a bash app with its exit code and stdout, and a checkpoint written and read back by a
second run. Run by scripts/wheel-smoke.sh in a venv holding only the wheel; exits non-zero
with the reason on the first thing that does not work.
"""
import os
import subprocess
import sys
import tempfile

import chervil
from chervil import bash_app, python_app
from chervil.app.errors import BashExitFailure
from chervil.config import Config
from chervil.executors import HighThroughputExecutor, ThreadPoolExecutor
from chervil.providers import LocalProvider
from chervil.utils import get_all_checkpoints


@python_app
def square(x):
    return x * x


@python_app(cache=True)
def slow_double(x):
    import os
    return (x * 2, os.getpid())


@bash_app
def shout(word, stdout=None):
    return f'echo {word}'


@bash_app
def fails():
    return 'exit 3'


def run(config):
    with chervil.load(config):
        assert sum(f.result() for f in [square(i) for i in range(10)]) == 285
        if config.executors[0].label == 'htex':
            out = os.path.join(config.run_dir, 'shout.out')
            shout('hello', stdout=out).result()
            with open(out) as f:  # appended to, as in Parsl: the last line is this run's
                assert f.read().splitlines()[-1] == 'hello', 'bash stdout'
            try:
                fails().result()
                raise AssertionError('a bash app exiting 3 must fail')
            except BashExitFailure as e:
                assert e.exitcode == 3, e
            return slow_double(21).result()


def main() -> int:
    assert 'site-packages' in chervil.__file__, f'chervil imported from {chervil.__file__}, not the wheel'
    out = subprocess.run([sys.executable, '-m', 'chervil', 'version'], capture_output=True, text=True, check=True).stdout
    assert out.startswith(f'chervil {chervil.__version__} (engine commit '), out
    with tempfile.TemporaryDirectory() as tmp:
        run(Config(executors=[ThreadPoolExecutor(label='threads', max_threads=2)], run_dir=tmp))

        def htex(checkpoints=None):
            return Config(executors=[HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                                           provider=LocalProvider(init_blocks=1, max_blocks=1))],
                          run_dir=tmp, checkpoint_mode='task_exit', checkpoint_files=checkpoints)
        first = run(htex())
        saved = get_all_checkpoints(tmp)
        assert saved, 'the first HTEX run wrote no checkpoint'
        again = run(htex(saved))
        assert again == first, f'the checkpointed result was not reused: {first} then {again}'
    print(f'smoke ok: chervil {chervil.__version__} on Python {sys.version.split()[0]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
