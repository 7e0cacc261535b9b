import os
import shutil
import socket
import subprocess

import pytest

import chervil
from chervil.config import Config
from chervil.dataflow.dflow import DataFlowKernelLoader
from chervil.executors import ThreadPoolExecutor
from test_htex import _need, wait_until

# Parsl's own tests run through tests/parsl_suite/run.py (make test-parsl-suite), not here.
collect_ignore = ['parsl_suite']


@pytest.fixture(autouse=True)
def _no_dfk_left_behind(tmp_path, monkeypatch):
    """Each test starts with no loaded DFK and a run directory of its own."""
    monkeypatch.chdir(tmp_path)
    yield
    loaded = DataFlowKernelLoader._dfk
    if loaded is not None and not loaded.cleanup_called:
        loaded.cleanup()
    chervil.clear()


def make_config(tmp_path, **kw):
    kw.setdefault('executors', [ThreadPoolExecutor(label='threads', max_threads=4)])
    return Config(run_dir=str(tmp_path / 'runinfo'), **kw)


@pytest.fixture
def config_for(tmp_path):
    return lambda **kw: make_config(tmp_path, **kw)


@pytest.fixture
def dfk(tmp_path):
    d = chervil.load(make_config(tmp_path))
    yield d
    if not d.cleanup_called:
        d.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def sshd(tmp_path_factory):
    """A real sshd on a loopback port that accepts a key made here; yields the ssh
    options (key, port, no host-key prompts) that reach it."""
    sshd_bin = shutil.which('sshd') or ('/usr/sbin/sshd' if os.path.exists('/usr/sbin/sshd') else None)
    _need(sshd_bin is not None and shutil.which('ssh') is not None, "openssh is not installed (make system-deps)")
    d = tmp_path_factory.mktemp('sshd')
    for name in ('host_key', 'id'):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(d / name)], check=True)
    shutil.copy(d / 'id.pub', d / 'authorized_keys')
    port = free_port()
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
