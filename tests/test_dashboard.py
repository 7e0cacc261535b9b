"""`chervil dashboard` in a real headless Chromium (Debian's chromium and chromedriver,
driven by Selenium): each page's DOM is checked and a screenshot of it is kept in
test-artifacts/dashboard/. The database comes from real runs on HTEX with monitoring."""
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import chervil
from chervil.executors import HighThroughputExecutor
from chervil.providers import LocalProvider
from conftest import free_port
from test_htex import _need, wait_until
from test_monitoring import busy, monitored, rows, workflow

ARTIFACTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'test-artifacts', 'dashboard')


@pytest.fixture(scope='module')
def browser():
    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    driver_bin = shutil.which('chromedriver')
    _need(chromium is not None and driver_bin is not None, "chromium and chromium-driver are not installed (make system-deps)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need(False, "selenium is not installed (make setup)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1400,1100'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    driver.set_page_load_timeout(30)
    os.makedirs(ARTIFACTS, exist_ok=True)
    yield driver
    driver.quit()


class Dashboard:
    """`python -m chervil dashboard DB --port N` in a process of its own."""

    def __init__(self, db, tmp_path, open_files=None):
        self.port = free_port()
        self.log = tmp_path / f'dashboard-{self.port}.log'
        out = open(self.log, 'wb')

        def limit():  # soft and hard: the server cannot raise its way out
            import resource
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
        self.proc = subprocess.Popen([sys.executable, '-m', 'chervil', 'dashboard', str(db), '--port', str(self.port)],
                                     stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit if open_files else None)
        wait_until(lambda: self.proc.poll() is not None or b'http://' in self.log.read_bytes(), 30,
                   "the dashboard to listen")
        assert self.proc.poll() is None, self.log.read_text()
        self.url = f'http://127.0.0.1:{self.port}'

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def show(driver, url, name):
    """Loads a page and waits until its script has drawn it."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: d.find_element('tag name', 'body').get_attribute('data-loaded'))
    driver.save_screenshot(os.path.join(ARTIFACTS, f'{name}.png'))


def text(driver, css):
    """The text of an element, read in one script call: a live page redraws itself every
    2 s, which would make a held element reference stale."""
    found = driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.innerText;", css)
    assert found is not None, f"nothing matches {css}"
    return found


def test_pages_of_a_finished_run(browser, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    run_id, _ = workflow(monitored(tmp_path, executor=htex, workflow_name='dashboard-demo',
                                   resource_monitoring_interval=0.1))
    db = tmp_path / 'runinfo' / 'monitoring.db'
    dash = Dashboard(db, tmp_path)
    try:
        show(browser, dash.url + '/', 'workflows')
        row = browser.find_element('css selector', f'#workflows tr[data-run="{run_id}"]')
        assert 'dashboard-demo' in row.text

        show(browser, f'{dash.url}/workflow/{run_id}', 'workflow')
        assert 'dashboard-demo' in text(browser, 'h1') and 'finished' in text(browser, 'h1')
        counts = {e.get_attribute('data-state'): e.text.split('\n')[0]
                  for e in browser.find_elements('css selector', '#counts .count[data-state]')}
        assert counts == {'done': '3', 'failed': '2', 'running': '0', 'queued': '0', 'pending': '0'}
        apps = {r.find_elements('tag name', 'td')[0].text: [c.text for c in r.find_elements('tag name', 'td')[1:5]]
                for r in browser.find_elements('css selector', '#apps tbody tr')}
        assert apps['inc'] == ['3', '2', '1', '0'] and apps['boom'] == ['1', '0', '1', '1'], apps
        assert browser.find_elements('css selector', '#chart-states .uplot'), "the states chart is drawn"
        gantt = browser.find_element('css selector', 'canvas#gantt')
        assert gantt.size['height'] > 30 and gantt.size['width'] > 500
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.getElementById('graph')"))
        assert browser.execute_script("return document.getElementById('graph').dataset.nodes") == '5', "a node per task"
        assert 'PENDING' in text(browser, '#blocks') and 'SCALED_IN' in text(browser, '#blocks')
        assert browser.find_elements('css selector', '#chart-capacity .uplot'), "blocks and workers over time"
        assert browser.find_elements('css selector', '#chart-usage .uplot'), "the workers' CPU and memory"
        # One row per pool, however many node rows (heartbeats) it has.
        pools = rows(str(db), "SELECT count(DISTINCT uid) FROM node WHERE run_id = ?", run_id)[0][0]
        assert len(browser.find_elements('css selector', '#nodes tbody tr')) == pools == 1
        assert 'left' in text(browser, '#nodes')

        # Failures, grouped by error, as the database has them.
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(browser, 20).until(lambda d: d.find_elements('css selector', '#failure-groups tbody tr'))
        groups = [[c.text for c in r.find_elements('tag name', 'td')]
                  for r in browser.find_elements('css selector', '#failure-groups tbody tr')]
        assert sorted((g[0], g[3], g[4]) for g in groups) == [('1', '0', '1'), ('1', '1', '0')], groups
        assert any("ValueError('boom 3')" in g[1] and g[2] == 'boom (1)' for g in groups), groups
        # The failed counter narrows the task list to the failures; the search box narrows it further.
        browser.execute_script("document.querySelector('#counts .count.failed').click()")
        WebDriverWait(browser, 20).until(lambda d: 'tasks' in text(d, '#task-count') and
                                         text(d, '#task-count').startswith('2 '))
        listed = browser.execute_script(
            "return [...document.querySelectorAll('#tasks-table tbody tr')].map(r => r.children[2].innerText)")
        assert sorted(listed) == ['dep_fail', 'failed'], listed
        browser.execute_script("const f = document.querySelector('#task-filters'); f.q.value = 'DependencyError'; "
                               "f.requestSubmit();")
        WebDriverWait(browser, 20).until(lambda d: text(d, '#task-count').startswith('1 '))
        assert 'dep_fail' in text(browser, '#tasks-table') and 'inc' in text(browser, '#tasks-table')
        browser.save_screenshot(os.path.join(ARTIFACTS, 'workflow-failures.png'))

        [(boom_id,)] = rows(str(db), "SELECT task_id FROM task WHERE run_id = ? AND task_func_name = 'boom'", run_id)
        show(browser, f'{dash.url}/workflow/{run_id}/task/{boom_id}', 'task')
        assert 'boom' in text(browser, 'h1') and 'failed' in text(browser, 'h1')
        tries = browser.find_elements('css selector', '#tries tbody tr')
        assert len(tries) == 2 and all("ValueError('boom 3')" in t.text for t in tries)
        states = text(browser, '#states')
        assert states.index('fail_retryable') < states.index('running_ended', states.index('fail_retryable'))

        show(browser, f'{dash.url}/workflow/no-such-run', 'unknown-run')
        assert 'not found' in text(browser, '#error')
    finally:
        dash.stop()


def test_chart_values_agree_with_the_database(browser, tmp_path, monkeypatch):
    # Two single-threaded workers kept busy: the page's CPU chart never reads above
    # 2 × 100 % (a clock tick's error at most: 1 %), its memory counts each worker once,
    # and its counters and final states are the database's.
    monkeypatch.chdir(tmp_path)
    htex = HighThroughputExecutor(label='htex', max_workers_per_node=2,
                                  provider=LocalProvider(init_blocks=1, max_blocks=1))
    with chervil.load(monitored(tmp_path, executor=htex, resource_monitoring_interval=0.2)) as dfk:
        assert all(f.result() == 64 * 2 ** 20 for f in [busy(1.2) for _ in range(4)])
        run_id = dfk.run_id
    db = str(tmp_path / 'runinfo' / 'monitoring.db')
    dash = Dashboard(db, tmp_path)
    try:
        show(browser, f'{dash.url}/workflow/{run_id}', 'workflow-busy')
        usage = browser.execute_script("return window.chartData[\"Workers' resource use\"]")
        cpu, rss = usage['CPU %'], usage['RSS MiB']
        assert max(cpu) <= 2 * 100 * 1.01, cpu
        assert max(cpu) > 0, "the work is seen (how much depends on how busy the machine is)"
        [(workers,)] = rows(db, "SELECT count(DISTINCT psutil_process_pid) FROM resource WHERE run_id = ?", run_id)
        [(peak_rss,)] = rows(db, "SELECT max(psutil_process_memory_resident) FROM resource WHERE run_id = ?", run_id)
        assert workers == 2 and max(rss) <= workers * peak_rss / 2 ** 20 + 1e-6, (rss, peak_rss)
        states = dict(rows(db, "SELECT s.task_status_name, count(*) FROM status s WHERE s.run_id = ?1 AND s.rowid = "
                               "(SELECT s2.rowid FROM status s2 WHERE s2.run_id = ?1 AND s2.task_id = s.task_id "
                               "ORDER BY s2.timestamp DESC, s2.rowid DESC LIMIT 1) GROUP BY 1", run_id))
        assert states == {'exec_done': 4}, states
        assert int(text(browser, '#counts .count.done b')) == 4
        assert browser.execute_script("return window.chartData['Tasks by state'].done.at(-1)") == 4
        # one Gantt row per worker, not one per overlap
        assert browser.execute_script("return document.getElementById('gantt').dataset.rows") == '2'
    finally:
        dash.stop()


def test_a_graph_of_10000_tasks_reads_on_one_screen(browser, tmp_path, monkeypatch):
    # A fan-out of 9,999 tasks and one that waits on the first hundred: drawn whole, as a
    # block per depth, coloured by app (it was one column of dots 220,000 px tall).
    monkeypatch.chdir(tmp_path)
    from chervil import python_app

    @python_app
    def leaf(i):
        return i

    @python_app
    def gather(inputs=()):
        return len(inputs)

    with chervil.load(monitored(tmp_path)) as dfk:
        leaves = [leaf(i) for i in range(9999)]
        assert gather(inputs=leaves[:100]).result() == 100
        assert sum(f.result() for f in leaves) == sum(range(9999))
        run_id = dfk.run_id
    dash = Dashboard(tmp_path / 'runinfo' / 'monitoring.db', tmp_path)
    try:
        show(browser, f'{dash.url}/workflow/{run_id}', 'workflow-10k')
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.getElementById('graph')"))
        size = browser.execute_script("const c = document.getElementById('graph'); "
                                      "return [c.width, c.height, c.dataset.nodes]")
        assert size[2] == '10000', size
        assert size[1] <= 640 and size[0] <= 4000, f"{size[0]} × {size[1]} px"
        legend = text(browser, '#graph-card .legend')
        assert 'leaf' in legend and 'gather' in legend
        browser.execute_script("document.getElementById('graph-card').scrollIntoView()")
        browser.save_screenshot(os.path.join(ARTIFACTS, 'graph-10k.png'))
    finally:
        dash.stop()


LIVE_SCRIPT = textwrap.dedent('''
    import sys, time, chervil
    from chervil.config import Config
    from chervil.executors import ThreadPoolExecutor
    from chervil.monitoring import MonitoringHub

    @chervil.python_app
    def nap(i):
        import time
        time.sleep(0.25)
        return i

    config = Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=sys.argv[1],
                    monitoring=MonitoringHub(workflow_name='live'))
    with chervil.load(config):
        futures = [nap(i) for i in range(40)]
        [f.result() for f in futures]
''')


def _listed_done(dash, run_id):
    import json
    import urllib.request
    with urllib.request.urlopen(dash.url + '/api/workflows', timeout=30) as r:
        return next(w['tasks_completed'] for w in json.load(r) if w['run_id'] == run_id)


def test_a_running_workflow_updates_by_itself(browser, tmp_path):
    (tmp_path / 'live.py').write_text(LIVE_SCRIPT)
    run = subprocess.Popen([sys.executable, str(tmp_path / 'live.py'), str(tmp_path / 'runinfo')], cwd=tmp_path)
    db = tmp_path / 'runinfo' / 'monitoring.db'
    try:
        def has_rows():
            try:
                return db.exists() and rows(str(db), "SELECT count(*) FROM task")[0][0] > 0
            except sqlite3.OperationalError:  # the file is there, its tables not yet
                return False
        wait_until(has_rows, 30, "the first rows")
        dash = Dashboard(db, tmp_path)
        try:
            [(run_id,)] = rows(str(db), "SELECT run_id FROM workflow")
            show(browser, f'{dash.url}/workflow/{run_id}', 'live-start')
            assert 'running' in text(browser, 'h1') and browser.execute_script("return !document.getElementById('live').hidden")

            def count(state):
                return int(text(browser, f'#counts .count.{state} b').replace(',', ''))

            def done():
                return count('done')
            first = done()
            # Every task is accounted for: done, running, handed to the thread pool, or waiting.
            assert count('done') + count('running') + count('queued') + count('pending') == 40
            # The run list counts a live run's tasks too (its row's counts come at the end).
            wait_until(lambda: _listed_done(dash, run_id) > 0, 20, "the run list to count tasks done")
            # No reload: the page fetches again by itself while the run goes.
            wait_until(lambda: done() > first, 20, "the page to show more tasks done")
            browser.save_screenshot(os.path.join(ARTIFACTS, 'live-progress.png'))
            assert run.wait(timeout=60) == 0
            wait_until(lambda: 'finished' in text(browser, 'h1'), 20, "the page to show the run finished")
            assert done() == 40 and browser.execute_script("return document.getElementById('live').hidden")
            browser.save_screenshot(os.path.join(ARTIFACTS, 'live-finished.png'))
        finally:
            dash.stop()
    finally:
        if run.poll() is None:
            run.kill()


def test_a_wrong_database_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'dashboard', str(tmp_path / 'nope.db'), '--port', '0'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'no monitoring database' in proc.stderr and 'MonitoringHub' in proc.stderr
    (tmp_path / 'other.db').write_bytes(b'not sqlite at all' * 100)
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'dashboard', str(tmp_path / 'other.db'), '--port', '0'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'not a monitoring database' in proc.stderr


def _small_run(tmp_path):
    """A real run with monitoring on threads; returns its run id and database."""
    from chervil.executors import ThreadPoolExecutor
    run_id, _ = workflow(monitored(tmp_path, executor=ThreadPoolExecutor(label='threads')))
    return run_id, tmp_path / 'runinfo' / 'monitoring.db'


def _raw_get(port, path, host):
    import socket
    with socket.create_connection(('127.0.0.1', port), timeout=30) as s:
        s.sendall(f'GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n'.encode())
        data = b''
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b' ', 2)[1]), data


def test_the_dashboard_answers_only_to_its_own_names(tmp_path, monkeypatch):
    """A web page can point a name it controls at 127.0.0.1 (DNS rebinding) and read the
    dashboard through the user's browser unless the Host header is checked."""
    monkeypatch.chdir(tmp_path)
    _, db = _small_run(tmp_path)
    dash = Dashboard(db, tmp_path)
    try:
        for host in ('attacker.example', f'attacker.example:{dash.port}', '127.0.0.1.nip.io', ''):
            status, body = _raw_get(dash.port, '/api/workflows', host)
            assert status == 421 and b'DNS rebinding' in body, (host, body[:300])
        for host in (f'127.0.0.1:{dash.port}', f'localhost:{dash.port}', 'localhost', f'[::1]:{dash.port}'):
            status, body = _raw_get(dash.port, '/api/workflows', host)
            assert status == 200, (host, body[:300])
    finally:
        dash.stop()


def test_connections_that_never_finish_a_request_do_not_lock_out_the_user(tmp_path, monkeypatch):
    """2,000 connections that never send a request, against a dashboard limited to 1,024
    descriptors: they used to stay open and block every request."""
    import resource
    import socket
    import urllib.request
    monkeypatch.chdir(tmp_path)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4096 and os.geteuid() != 0:
        pytest.skip("this test opens 2,000 sockets and cannot raise its own descriptor limit")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    _, db = _small_run(tmp_path)
    dash = Dashboard(db, tmp_path, open_files=1024)
    flood = []
    try:
        for _ in range(2000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', dash.port))
            flood.append(s)
        wait_until(lambda: len(os.listdir(f'/proc/{dash.proc.pid}/fd')) > 100, 30, "the dashboard to take part of the flood")
        for _ in range(3):  # the page polls; each request must get through while the flood stays
            with urllib.request.urlopen(dash.url + '/api/workflows', timeout=30) as r:
                assert r.status == 200
        assert len(os.listdir(f'/proc/{dash.proc.pid}/fd')) < 128 + 64, "unanswered connections are not bounded"
        assert dash.proc.poll() is None
    finally:
        for s in flood:
            s.close()
        dash.stop()
    assert 'Too many open files' not in dash.log.read_text()


def test_a_crafted_database_cannot_write_into_the_page(browser, tmp_path, monkeypatch):
    """task_depends went into a link unescaped: a database (a file anyone may hand you)
    could set attributes on the page."""
    monkeypatch.chdir(tmp_path)
    run_id, db = _small_run(tmp_path)
    with sqlite3.connect(db) as c:
        c.execute("UPDATE task SET task_depends = ? WHERE task_id = 1", ('0" data-pwned="yes',))
    dash = Dashboard(db, tmp_path)
    try:
        show(browser, f'{dash.url}/workflow/{run_id}/task/1', 'crafted-depends')
        assert not browser.find_elements('css selector', '[data-pwned]')
        assert '0" data-pwned="yes' in text(browser, '#task-detail')
        # A malformed address is an error on the page, not "Loading…" for ever.
        show(browser, f'{dash.url}/workflow/%FF', 'malformed-address')
        assert 'Cannot show this page' in text(browser, 'h1')
    finally:
        dash.stop()


def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, '-m', 'chervil', 'dashboard', str(tmp_path / 'x.db'), '--port', '99999'],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "'99999' is not a port" in proc.stderr and 'Traceback' not in proc.stderr
