import pytest

import chervil
from chervil.config import Config
from chervil.dataflow.dflow import DataFlowKernelLoader
from chervil.executors import ThreadPoolExecutor


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
