"""AdHocProvider against a real sshd on a loopback port, with keys made by the test:
HTEX blocks started, watched and cancelled over ssh."""
import os
import shutil
import socket
import subprocess

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.executors import HighThroughputExecutor
from chervil.executors.errors import ScalingFailed
from chervil.jobs.states import JobState
from chervil.providers import AdHocProvider
from test_htex import _need, alive, wait_until

TESTS = os.path.dirname(os.path.abspath(__file__))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def sshd(tmp_path_factory):
    sshd_bin = shutil.which('sshd') or ('/usr/sbin/sshd' if os.path.exists('/usr/sbin/sshd') else None)
    _need(sshd_bin is not None and shutil.which('ssh') is not None, "openssh is not installed (make system-deps)")
    d = tmp_path_factory.mktemp('sshd')
    for name in ('host_key', 'id'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(d / name)], check=True)
    shutil.copy(d / 'id.pub', d / 'authorized_keys')
    port = _free_port()
    (d / 'sshd_config').write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n")
    os.makedirs('/run/sshd', exist_ok=True) if os.geteuid() == 0 else None
    log = open(d / 'sshd.log', 'wb')
    proc = subprocess.Popen([sshd_bin, '-D', '-e', '-f', str(d / 'sshd_config')], stderr=log)
    options = ['-i', str(d / 'id'), '-p', str(port), '-o', 'StrictHostKeyChecking=no',
               '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR']

    def reachable():
        return subprocess.run(['ssh', '-o', 'BatchMode=yes', *options, '127.0.0.1', 'true'],
                              capture_output=True, timeout=10).returncode == 0
    try:
        wait_until(lambda: proc.poll() is not None or reachable(), 30, "sshd to accept our key")
        if proc.poll() is not None:
            _need(False, f"sshd did not start: {(d / 'sshd.log').read_text()[-1000:]}")
        yield options
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@python_app
def on_host():
    import os
    return os.getppid(), os.environ.get('SSH_CONNECTION') is not None


def test_blocks_run_over_ssh_and_are_cancelled_there(tmp_path, sshd):
    provider = AdHocProvider(hosts=['127.0.0.1', 'localhost'], ssh_options=sshd,
                             worker_init=f'export PYTHONPATH={TESTS}')
    htex = HighThroughputExecutor(label='ssh_htex', provider=provider, max_workers_per_node=1,
                                  heartbeat_period=2, heartbeat_threshold=10)
    config = Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='none')
    with chervil.load(config):
        wait_until(lambda: len(htex.connected_managers()) == 2, 60, "a pool on each ssh host")
        results = [f.result(timeout=60) for f in [on_host() for _ in range(10)]]
        assert all(over_ssh for _, over_ssh in results), "the pools were started by sshd sessions"
        pools = {pool for pool, _ in results}
        assert len(htex.blocks_to_job_id) == 2
        assert all(s.state == JobState.RUNNING for s in htex.status().values())
        retired = htex.scale_in(1)
        wait_until(lambda: len(htex.connected_managers()) == 1, 30, "the cancelled block's pool to go")
        assert htex.status()[retired[0]].state in (JobState.SCALED_IN, JobState.CANCELLED)
    wait_until(lambda: not any(alive(p) for p in pools), 30, "every pool started over ssh to exit after cleanup")


def test_an_unreachable_host_is_a_clear_error(tmp_path, sshd):
    options = [o if o != sshd[3] else str(_free_port()) for o in sshd]  # the same key, a closed port
    provider = AdHocProvider(hosts=['127.0.0.1'], ssh_options=options, cmd_timeout=10)
    htex = HighThroughputExecutor(label='ssh_htex', provider=provider)
    with pytest.raises(ScalingFailed, match='Connection refused'):
        chervil.load(Config(executors=[htex], run_dir=str(tmp_path / 'runinfo'), strategy='none'))
    chervil.clear()
