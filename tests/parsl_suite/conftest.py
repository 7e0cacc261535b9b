"""Chervil's own stand-in for the conftest.py of Parsl's test suite.

The harness copies Parsl's tests next to this file (as ``parsl/tests/``) and runs pytest
there. Parsl's tests rely on what its conftest gives them; this gives the same under the
same names, written for Chervil:

- ``--config PATH`` (a config module with ``config`` or ``fresh_config()``, loaded once for
  the whole session) or ``--config local`` (each test module loads its own
  ``local_config()`` and may have ``local_setup``/``local_teardown``);
- the ``local`` marker: such tests run only under ``--config local``, and under ``local``
  only they run;
- fixtures ``tmpd_cwd_session``, ``tmpd_cwd``, ``setup_data``, ``try_assert`` and
  ``randomstring``; between tests under a config file, every task must be done.
"""
import importlib.util
import os
import pathlib
import random
import re
import string
import tempfile
import time

import pytest

import parsl
from parsl.dataflow.dflow import DataFlowKernelLoader
from parsl.utils import RepresentationMixin

MARKERS = {
    'local': 'runs only under --config local',
    'whitelist': 'runs only on the named configs',
    'blacklist': 'skips the named configs',
    'cleannet': 'needs a clean network connection (FTP, HTTPS)',
    'staging_required': 'needs a staging provider',
    'multiple_cores_required': 'needs several cores',
    'unix_filesystem_permissions_required': 'needs Unix permission enforcement',
    'issue3328': 'broken by Parsl issue 3328',
    'executor_supports_std_stream_tuples': 'needs (path, mode) stdout/stderr',
    'shared_fs': 'needs a file system shared by workers and client',
    'issue_3620': 'not on GlobusComputeExecutor',
    'workqueue': 'needs Work Queue',
    'taskvine': 'needs TaskVine',
    'globus_compute': 'needs the Globus Compute SDK',
    'radical': 'needs RADICAL-Pilot',
}


def pytest_addoption(parser):
    parser.addoption('--config', action='store', nargs=1, required=True, metavar='CONFIG',
                     help="a Parsl config module, or 'local' for each module's local_config")


def pytest_configure(config):
    for name, meaning in MARKERS.items():
        config.addinivalue_line('markers', f'{name}: {meaning}')


def _config_name(pytestconfig) -> str:
    return pytestconfig.getoption('config')[0]


def pytest_collection_modifyitems(config, items):
    local = _config_name(config) == 'local'
    keep = [item for item in items if (item.get_closest_marker('local') is not None) == local]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def _load(config_obj, run_root: pathlib.Path):
    if config_obj.run_dir == 'runinfo':
        config_obj.run_dir = str(run_root / 'runinfo')
    dfk = parsl.load(config_obj)
    for executor in dfk.executors.values():
        executor.working_dir = str(run_root)
    return dfk


def _unload(dfk):
    if parsl.dfk() is not dfk:
        raise RuntimeError("the loaded DFK changed during the test")
    dfk.cleanup()
    assert DataFlowKernelLoader._dfk is None, "cleanup() left the DFK loaded"


@pytest.fixture(scope='session')
def tmpd_cwd_session(pytestconfig):
    label = re.sub(r'[^A-Za-z0-9_-]+', '_', _config_name(pytestconfig))
    root = pathlib.Path.cwd() / 'pytest-parsl'
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    return pathlib.Path(tempfile.mkdtemp(dir=root, prefix=f'run-{label}-'))


@pytest.fixture
def tmpd_cwd(tmpd_cwd_session, request):
    name = re.sub(r'[^\w\s-]', '_', request.node.name)
    return pathlib.Path(tempfile.mkdtemp(dir=tmpd_cwd_session, prefix=f'{name}-'))


@pytest.fixture(autouse=True, scope='session')
def _session_dfk(pytestconfig, tmpd_cwd_session):
    # As Parsl's conftest: every RepresentationMixin's repr checks that each constructor
    # parameter is kept as an attribute (test_representation_mixin relies on it).
    RepresentationMixin._validate_repr = True
    name = _config_name(pytestconfig)
    if name == 'local':
        yield
        return
    spec = importlib.util.spec_from_file_location('parsl_suite_config', name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DataFlowKernelLoader._dfk is None, "a DFK was loaded before the session began"
    config_obj = module.config if hasattr(module, 'config') else module.fresh_config()
    dfk = _load(config_obj, tmpd_cwd_session)
    yield
    _unload(dfk)


@pytest.fixture(autouse=True, scope='module')
def _module_dfk(request, pytestconfig, tmpd_cwd_session):
    if _config_name(pytestconfig) != 'local':
        yield
        return
    local_config = getattr(request.module, 'local_config', None)
    setup = getattr(request.module, 'local_setup', None)
    teardown = getattr(request.module, 'local_teardown', None)
    dfk = None
    if local_config:
        config_obj = local_config()
        assert isinstance(config_obj, parsl.Config), "local_config() must return a Config"
        dfk = _load(config_obj, tmpd_cwd_session)
    if callable(setup):
        setup()
    yield
    if callable(teardown):
        teardown()
        assert DataFlowKernelLoader._dfk is None, "local_teardown() must clear the DFK"
    if dfk is not None:
        _unload(dfk)


@pytest.fixture(autouse=True)
def _all_tasks_done_after_each_test(pytestconfig):
    before = DataFlowKernelLoader._dfk
    yield
    if _config_name(pytestconfig) != 'local':
        for record in parsl.dfk().tasks.values():
            assert record['app_fu'].done(), f"task {record['id']} was still outstanding after its test"
    elif DataFlowKernelLoader._dfk is not None and DataFlowKernelLoader._dfk is not before:
        # A test that loads its own DFK and fails before its cleanup() would fail every
        # later test that loads one ("already loaded"): its failure stays its own.
        DataFlowKernelLoader._dfk.cleanup()


@pytest.fixture
def setup_data(tmpd_cwd):
    data = tmpd_cwd / 'data'
    data.mkdir()
    (data / 'test1.txt').write_text('1\n')
    (data / 'test2.txt').write_text('2\n')
    return data


@pytest.fixture
def try_assert():
    """Polls ``check()`` until it is true, for ``timeout_ms`` or ``attempts`` tries."""
    def poll(check, fail_msg='', timeout_ms=5000, attempts=0, check_period_ms=20, factor=2):
        period = abs(check_period_ms) / 1000.0
        if attempts > 0:
            for _ in range(attempts):
                time.sleep(random.random() * period)
                period *= factor ** random.random()
                if check():
                    return
            raise AssertionError(f"{fail_msg} (still false after {attempts} attempts)".strip())
        if timeout_ms <= 0:
            raise AssertionError("try_assert needs attempts > 0 or timeout_ms > 0")
        deadline = time.monotonic() + timeout_ms / 1000.0
        while time.monotonic() < deadline:
            time.sleep(max(0.0, min(random.random() * period, deadline - time.monotonic())))
            period *= factor ** random.random()
            if check():
                return
        raise AssertionError(f"{fail_msg} (still false after {timeout_ms} ms)".strip())
    return poll


@pytest.fixture
def randomstring():
    return lambda length=5, alphabet=string.ascii_letters: ''.join(random.choice(alphabet) for _ in range(length))
