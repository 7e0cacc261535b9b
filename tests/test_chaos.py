"""The chaos soak's short run (scripts/chaos-soak.py; the full one is `make soak`): a
mixed workflow on a real Slurm while workers, pools, blocks, the port, the disk and
finally the client itself are hit; every result right, nothing run again after the
restart, nothing checkpointed twice, nothing left running."""
import json
import os
import subprocess
import sys

from test_htex import _need

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_short_chaos_soak_loses_nothing(tmp_path):
    _need(os.geteuid() == 0, "the soak mounts a tmpfs and starts Slurm: needs root")
    run = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'chaos-soak.py'), '--tasks', '10000',
                          '--provider', 'slurm', '--fault-every', '0.5', '--minutes', '10'],
                         capture_output=True, text=True, timeout=900)
    figures = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{')]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    f = figures[-1]
    print(json.dumps(f))
    # Each kind of fault happened at least once (the driver takes them in shuffled turns).
    kinds = {k.split('-')[0] if k.startswith('garbage') else k for k in f['faults']}
    assert kinds >= {'worker-sigkill', 'worker-sigsegv', 'pool-sigkill', 'pool-sigstop', 'block-cancel',
                     'garbage', 'disk-full', 'client-sigkill'}, f['faults']
