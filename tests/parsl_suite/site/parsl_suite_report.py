"""A pytest plugin (``-p parsl_suite_report``) that writes one JSON line per test to the
file named by CHERVIL_SUITE_REPORT: ``{"id": …, "outcome": passed|failed|skipped}``.
Used for both runs, Parsl's and Chervil's, so the two are compared test by test.
Imports nothing of Parsl or Chervil."""
import json
import os

_outcomes = {}


def _test_id(nodeid: str) -> str:
    # Chervil's run sees parsl/tests/…, Parsl's run tests/… or a bare folder: keep the
    # part from the test folder on.
    marker = 'tests/'
    return nodeid[nodeid.rindex(marker) + len(marker):] if marker in nodeid else nodeid


def pytest_runtest_logreport(report):
    test_id = _test_id(report.nodeid)
    before = _outcomes.get(test_id)
    if report.failed:
        _outcomes[test_id] = 'failed'
    elif report.skipped and before is None:
        _outcomes[test_id] = 'skipped'
    elif report.when == 'call' and report.passed and before is None:
        _outcomes[test_id] = 'passed'


def pytest_collectreport(report):
    if report.failed:
        _outcomes[_test_id(report.nodeid)] = 'failed'


def pytest_sessionfinish(session):
    path = os.environ.get('CHERVIL_SUITE_REPORT')
    if path:
        with open(path, 'w') as out:
            for test_id, outcome in sorted(_outcomes.items()):
                out.write(json.dumps({'id': test_id, 'outcome': outcome}) + '\n')
