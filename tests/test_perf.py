"""`chervil perf` runs rounds of tasks on a real executor and reports them."""
import json
import subprocess
import sys


def test_chervil_perf_runs_the_given_rounds(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'chervil', 'perf', '--iterate', '50,200', '--argsize', '100'],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.splitlines()[-1])
    assert [r['tasks'] for r in report['rounds']] == [50, 200]
    assert all(r['tasks_per_s'] > 0 for r in report['rounds'])


def test_chervil_perf_names_a_bad_iterate_option(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'chervil', 'perf', '--iterate', 'sometimes'],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2 and 'estimate, exponential' in out.stderr
