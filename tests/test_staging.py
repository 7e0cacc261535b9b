"""Staging against real servers on loopback: an HTTP server, an FTP server
(pyftpdlib) and rsync over a real sshd. Separate-task and in-task staging, on the
thread pool and on HTEX workers."""
import functools
import http.server
import os
import shutil
import threading

import pytest

import chervil
from chervil import python_app
from chervil.config import Config
from chervil.app.errors import MissingOutputs
from chervil.data_provider.files import File
from chervil.data_provider.ftp import FTPInTaskStaging, FTPSeparateTaskStaging
from chervil.data_provider.http import HTTPInTaskStaging, HTTPSeparateTaskStaging
from chervil.data_provider.rsync import RSyncStaging
from chervil.data_provider.staging import Staging, StagingError
from chervil.dataflow.errors import DependencyError
from chervil.errors import ConfigurationError
from chervil.executors import HighThroughputExecutor, ThreadPoolExecutor
from chervil.dataflow.states import States
from test_htex import _need, wait_until

# pyftpdlib still imports asyncore/asynchat, deprecated in 3.11.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CONTENT = "alpha\nbeta\n" * 1000


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp('served')
    (d / 'data.txt').write_text(CONTENT)
    return d


@pytest.fixture(scope='module')
def http_url(served):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope='module')
def ftp_url(served):
    try:
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer
    except ImportError:
        _need(False, "pyftpdlib is not installed (make setup)")
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(str(served))
    handler = type('Handler', (FTPHandler,), {'authorizer': authorizer, 'passive_ports': range(60000, 60100)})
    server = ThreadedFTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={'handle_exit': False}, daemon=True).start()
    yield f"ftp://127.0.0.1:{server.address[1]}"
    server.close_all()


@python_app
def read_it(f, inputs=()):
    with open(f) as fh:
        return fh.read(), f.filepath


@python_app
def read_inputs(inputs=()):
    return [open(f).read() for f in inputs]


def threads(tmp_path, staging):
    return ThreadPoolExecutor(label='threads', max_threads=2, working_dir=str(tmp_path / 'work'),
                              storage_access=staging)


def htex(tmp_path, staging):
    return HighThroughputExecutor(label='htex', max_workers_per_node=1, working_dir=str(tmp_path / 'work'),
                                  storage_access=staging)


@pytest.mark.parametrize('scheme', ['http', 'ftp'])
def test_separate_task_staging_fetches_before_the_task(tmp_path, scheme, http_url, ftp_url):
    url = (http_url if scheme == 'http' else ftp_url) + '/data.txt'
    with chervil.load(Config(executors=[threads(tmp_path, None)], run_dir=str(tmp_path / 'runinfo'))) as dfk:
        text, where = read_it(File(url)).result(timeout=60)
        assert text == CONTENT
        assert where == str(tmp_path / 'work' / 'data.txt')
        assert dfk.task_count == 2, "the fetch was a task of its own"
        assert read_inputs(inputs=[File(url)]).result(timeout=60) == [CONTENT]


@pytest.mark.parametrize('scheme', ['http', 'ftp'])
def test_in_task_staging_fetches_on_the_htex_worker(tmp_path, scheme, http_url, ftp_url):
    url = (http_url if scheme == 'http' else ftp_url) + '/data.txt'
    staging = [HTTPInTaskStaging()] if scheme == 'http' else [FTPInTaskStaging()]
    with chervil.load(Config(executors=[htex(tmp_path, staging)], run_dir=str(tmp_path / 'runinfo'))) as dfk:
        text, where = read_it(File(url)).result(timeout=60)
        assert text == CONTENT and where.endswith('data.txt')
        assert dfk.task_count == 1, "fetched inside the app's own task"


def test_a_failed_fetch_names_the_url(tmp_path, http_url):
    missing = http_url + '/missing.txt'
    with chervil.load(Config(executors=[threads(tmp_path, [HTTPInTaskStaging()])], run_dir=str(tmp_path / 'r1'))):
        with pytest.raises(StagingError, match=r"missing\.txt.*HTTP 404"):
            read_it(File(missing)).result(timeout=60)
    with chervil.load(Config(executors=[threads(tmp_path, [HTTPSeparateTaskStaging()])],
                             run_dir=str(tmp_path / 'r2'))):
        with pytest.raises(DependencyError) as e:
            read_it(File(missing)).result(timeout=60)
        assert 'missing.txt' in str(e.value.__cause__) and isinstance(e.value.__cause__, StagingError)
        assert not os.path.exists(tmp_path / 'work' / 'missing.txt'), "no partial file is left"


def test_a_scheme_no_provider_handles_is_named(tmp_path):
    with chervil.load(Config(executors=[threads(tmp_path, [HTTPInTaskStaging()])], run_dir=str(tmp_path / 'r'))):
        with pytest.raises(ValueError, match=r"scheme 'ftp'.*FTPInTaskStaging"):
            read_it(File('ftp://example.org/x'))


@python_app
def shout(f, outputs=()):
    with open(f) as src, open(outputs[0], 'w') as dst:
        dst.write(src.read().upper())
    return outputs[0].filepath


@python_app
def forgets(outputs=()):
    return 'wrote nothing'


def test_rsync_staging_over_a_real_sshd(tmp_path, sshd):
    _need(shutil.which('rsync') is not None, "rsync is not installed (make system-deps)")
    remote = tmp_path / 'remote'
    remote.mkdir()
    (remote / 'in.txt').write_text("quiet words")
    staging = [RSyncStaging('127.0.0.1', rsh=['ssh', '-o', 'BatchMode=yes', *sshd])]
    work = tmp_path / 'work'
    with chervil.load(Config(executors=[threads(tmp_path, staging)], run_dir=str(tmp_path / 'runinfo'))):
        out = shout(File(str(remote / 'in.txt')), outputs=[File(str(remote / 'out.txt'))])
        assert out.result(timeout=60) == str(work / 'out.txt'), "the app wrote in its working dir"
        out.outputs[0].result(timeout=60)
    assert (work / 'in.txt').read_text() == "quiet words", "rsync fetched the input over ssh"
    assert (remote / 'out.txt').read_text() == "QUIET WORDS", "and sent the output back"
    with chervil.load(Config(executors=[threads(tmp_path, staging)], run_dir=str(tmp_path / 'runinfo'))):
        with pytest.raises(MissingOutputs, match='never.txt'):
            forgets(outputs=[File(str(remote / 'never.txt'))]).result(timeout=60)


def test_globus_needs_its_sdk():
    try:
        import globus_sdk  # noqa: F401
        pytest.skip("globus_sdk is installed here")
    except ImportError:
        pass
    from chervil.data_provider.globus import GlobusStaging
    with pytest.raises(ConfigurationError, match='pip install globus-sdk'):
        GlobusStaging('endpoint-uuid')


class _SlowStageOut(Staging):
    """Stages out file:// outputs with a wrapper that marks the task's result, and
    takes its time wiring it: until the task's dependency has finished and tried to
    launch the task."""

    def __init__(self, gate):
        self.gate = gate

    def can_stage_in(self, file):
        return file.scheme == 'file'

    def can_stage_out(self, file):
        return file.scheme == 'file'

    def stage_out(self, dm, executor, file, app_fu):
        record = app_fu.task_record
        self.gate.set()
        wait_until(lambda: record.get('_held') is not None or record['status'] != States.pending, 30,
                   "the dependency to finish and try to launch the task")
        return None

    def replace_task_stage_out(self, dm, executor, file, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            return ('staged', func(*args, **kwargs))
        return wrapper


GATE = threading.Event()


@python_app
def waits_for_gate():
    GATE.wait(30)
    return 1


@python_app
def after(x, outputs=()):
    return x


def test_a_task_is_not_launched_before_its_stage_out_is_wired(tmp_path):
    GATE.clear()
    with chervil.load(Config(executors=[threads(tmp_path, [_SlowStageOut(GATE)])], run_dir=str(tmp_path / 'r'))):
        fut = after(waits_for_gate(), outputs=[File(str(tmp_path / 'out.txt'))])
        assert fut.result(timeout=60) == ('staged', 1), "the task ran with its stage-out wrapper"
