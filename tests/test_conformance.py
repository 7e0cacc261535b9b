"""Unchanged Parsl scripts on Chervil, compared with Parsl itself.

`python -m chervil run` is always tested. The comparison needs an interpreter with
Parsl installed: CHERVIL_PARSL_PYTHON names it (.ci/run makes one in .venv-parsl);
without it the comparison is skipped, loudly.
"""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, 'parsl_scripts', 'conformance.py')


def run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_chervil_runs_unchanged_parsl_script(tmp_path):
    lines = run([sys.executable, '-m', 'chervil', 'run', SCRIPT], tmp_path)
    assert lines[-1] == 'done'
    assert 'chain ok 6' in lines and 'retry ok 2' in lines and 'exitcode 4' in lines


def test_script_arguments_and_missing_module(tmp_path):
    script = tmp_path / 's.py'
    script.write_text("import sys, parsl\nprint(sys.argv[1:], parsl.python_app.__module__)\n"
                      "import parsl.executors.flux\n")
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'run', str(script), 'a', '--b'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "['a', '--b'] chervil.app.app"
    assert "Parsl module that Chervil does not provide" in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'run', 'nope.py'], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'no such script' in proc.stderr


def test_same_output_as_parsl(tmp_path):
    parsl_python = os.environ.get('CHERVIL_PARSL_PYTHON')
    if not parsl_python:
        pytest.skip("CHERVIL_PARSL_PYTHON is not set: no Parsl to compare with (.ci/run sets it up)")
    expected = run([parsl_python, SCRIPT], tmp_path)
    got = run([sys.executable, '-m', 'chervil', 'run', SCRIPT], tmp_path)
    assert got == expected
