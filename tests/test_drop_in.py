"""Parsl scripts as users write them, unchanged, on Chervil: tutorial imports, Parsl's
preset configs, and apps defined in a module that imports parsl, run on real HTEX workers
through ``python -m chervil run``. (Parsl's own tests run in tests/parsl_suite.)"""
import importlib
import os
import subprocess
import sys

import pytest

from chervil.errors import ConfigurationError

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_APPS = os.path.join(HERE, 'parsl_scripts', 'module_apps')

# Presets Chervil cannot express, each with the thing its error must name.
UNAVAILABLE = {'gc_multisite': 'GlobusComputeExecutor',
               'gc_tutorial': 'GlobusComputeExecutor', 'toss3_llnl': 'FluxExecutor'}


def run_script(args, cwd, timeout=180):
    env = dict(os.environ)
    env.pop('CHERVIL_PARSL_ALIAS', None)  # the alias must come from `chervil run`, not from us
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'run', *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_module_defined_apps_and_exceptions_on_htex(tmp_path):
    lines = run_script([os.path.join(MODULE_APPS, 'run.py'), str(tmp_path / 'runinfo')], tmp_path)
    assert lines[0] == 'squares [0, 1, 4, 9, 16, 25]'
    assert lines[1] == 'sample mylib Sample 7 True'
    assert lines[2] == 'caught mylib ValidationError negative: -1'
    # On the worker too, `import parsl` is Chervil: the alias travelled with the pool.
    assert lines[3] == 'worker sees chervil chervil.app.app'
    assert lines[4] == 'bash 0'
    assert lines[-1] == 'done'
    # It travels in the block's own command, so it reaches workers on remote providers too
    # (which do not inherit the client's environment).
    scripts = list((tmp_path / 'runinfo').glob('*/submit_scripts/*.sh'))
    assert scripts and all('CHERVIL_PARSL_ALIAS=1' in p.read_text() for p in scripts)


def test_tutorial_imports(tmp_path):
    script = tmp_path / 'tutorial.py'
    script.write_text(
        "import parsl\n"
        "from parsl.configs.local_threads import config\n"
        "from parsl.app.app import python_app\n"
        "from parsl.usage_tracking.levels import LEVEL_1\n"
        "config.run_dir = 'runinfo'\n"
        "@python_app\n"
        "def hello():\n"
        "    return 'Hello World!'\n"
        "with parsl.load(config):\n"
        "    print(hello().result())\n"
        "from parsl.configs.htex_local import config as htex\n"
        "print(type(htex.executors[0]).__name__, htex.executors[0].label, LEVEL_1)\n")
    assert run_script([str(script)], tmp_path) == ['Hello World!', 'HighThroughputExecutor htex_local 1']


def test_a_parsl_scripts_logging_set_up_applies_to_chervil(tmp_path):
    """A handler on the ``parsl`` logger, the level set on it, and the callback that
    ``set_stream_logger`` returns (Parsl's way to take its handler off) all act on what
    Chervil logs."""
    script = tmp_path / 'logs.py'
    script.write_text(
        "import io, logging\n"
        "import parsl\n"
        "from parsl.configs.local_threads import config\n"
        "mine = io.StringIO()\n"
        "logging.getLogger('parsl').addHandler(logging.StreamHandler(mine))\n"
        "stream = io.StringIO()\n"
        "stop = parsl.set_stream_logger(stream=stream, level=logging.INFO)\n"
        "config.run_dir = 'runinfo'\n"
        "with parsl.load(config):\n"
        "    pass\n"
        "stop()\n"
        "logging.getLogger('parsl.dataflow.dflow').info('after stop')\n"
        "print('DFK cleanup complete' in mine.getvalue(), 'DFK cleanup complete' in stream.getvalue())\n"
        "print('after stop' in mine.getvalue(), 'after stop' in stream.getvalue())\n")
    assert run_script([str(script)], tmp_path) == ['True True', 'True False']


@pytest.mark.parametrize('name', sorted(
    f[:-3] for f in os.listdir(os.path.join(os.path.dirname(importlib.util.find_spec('chervil').origin), 'configs'))
    if f.endswith('.py') and not f.startswith('_')))
def test_every_parsl_preset(name):
    if name in UNAVAILABLE:
        with pytest.raises(ConfigurationError, match=UNAVAILABLE[name]):
            importlib.import_module(f'chervil.configs.{name}')
        return
    try:
        module = importlib.import_module(f'chervil.configs.{name}')
    except OSError as e:  # a site's network interface (ib0, bond0, …) that this machine lacks
        assert 'interface' in str(e) or e.errno == 19, e
        return
    except ConfigurationError as e:  # a template's placeholder that validation rejects
        assert 'YOUR_' in str(e), e
        return
    assert module.config.executors
