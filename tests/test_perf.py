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


def test_the_benchmark_workloads_still_run_on_chervil(tmp_path):
    """Tiny sizes: this checks that benchmarks/workload.py works, not how fast."""
    import os
    workload = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks', 'workload.py')
    for bench in ('noop', 'chain', 'checkpoint'):
        out = subprocess.run([sys.executable, '-m', 'chervil', 'run', workload, bench, '20'],
                             capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-2000:]
        line = json.loads(out.stdout.splitlines()[-1])
        assert line['engine'] == 'chervil' and line['tasks_per_s'] > 0
        if bench == 'checkpoint':
            assert line['resume_tasks_per_s'] > 0
