"""Runs Parsl's own tests on Chervil and on Parsl, and fails where Chervil falls short.

    python tests/parsl_suite/run.py [--config threads|htex|local ...] [-- pytest args]

The tests are those of the Parsl installed beside Chervil (the interpreter named by
CHERVIL_PARSL_PYTHON, with pytest<8.4 as Parsl's conftest needs). For Chervil they are
copied at run time into a scratch folder as ``parsl/tests`` (never into this
repository), with our own conftest.py (tests/parsl_suite/conftest.py) in place of
Parsl's, and every Python process of the run finds ``parsl`` as Chervil through
site/sitecustomize.py. For reference, the same tests run on Parsl itself, in place.

A test that passes on Parsl must pass on Chervil, unless DIFFERENCES.md lists it with a
reason; a listed test that passes again fails the run too, so the list stays true. A
test that fails on Parsl here as well (no network, running as root) is reported only.
"""
import argparse
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
FOLDERS = ['test_python_apps', 'test_bash_apps', 'test_error_handling', 'test_checkpointing',
           'test_staging', 'test_threads', 'test_regression', 'test_serialization', 'test_shutdown', 'test_utils',
           'test_monitoring', 'test_logging', 'test_scaling', 'test_htex', 'test_providers', 'unit', 'test_docs',
           'test_callables.py', 'test_summary.py']
# What the tests import from Parsl's test package besides the test folders.
SUPPORT = ['__init__.py', 'utils.py', 'callables_helper.py', 'configs']
CONFIGS = {'threads': 'configs/local_threads.py', 'htex': 'configs/htex_local.py', 'local': 'local'}
# Globus staging needs Globus credentials and a network; Parsl's own CI leaves it out too.
# The others test parts of Parsl that Chervil does not have (DIFFERENCES.md says why).
LEFT_OUT = ['test_staging/test_staging_globus.py', 'test_monitoring/test_htex_fuzz_zmq.py',
            'test_monitoring/test_radio_zmq.py', 'test_monitoring/test_radio_udp.py',
            'test_monitoring/test_radio_filesystem.py', 'test_monitoring/test_radio_multiprocessing.py',
            'test_monitoring/test_exit_helper.py', 'test_monitoring/test_viz_colouring.py',
            'test_scaling/test_regression_3696_oscillation.py',
            'test_htex/test_htex.py', 'test_htex/test_zmq_binding.py', 'test_htex/test_command_client_timeout.py',
            'test_htex/test_interchange_exit_bad_registration.py', 'test_htex/test_worker_interchange_bad_messages_3262.py',
            'test_htex/test_block_manager_selector_unit.py', 'test_htex/mpi/test_mpi_prefix.py',
            'test_htex/mpi/test_mpi_scheduler.py', 'test_htex/mpi/test_resource_spec.py',
            'test_providers/test_kubernetes_provider.py', 'unit/test_globus_compute_executor.py']
# Parsl's top-level test modules that are not run at all (DIFFERENCES.md says why).
NOT_COPIED = ['test_execute_task.py', 'test_curvezmq.py', 'test_flux.py']
TIMEOUT_S = 1200


def parsl_python() -> str:
    python = os.environ.get('CHERVIL_PARSL_PYTHON')
    if not python:
        sys.exit("run.py: set CHERVIL_PARSL_PYTHON to an interpreter with Parsl and pytest<8.4 "
                 "installed (make parsl-venv makes .venv-parsl)")
    return python


def parsl_tests_dir(python: str) -> pathlib.Path:
    out = subprocess.run([python, '-c', 'import os, parsl; print(os.path.dirname(parsl.__file__))'],
                         capture_output=True, text=True, check=True)
    return pathlib.Path(out.stdout.strip()) / 'tests'


def copy_suite(source: pathlib.Path, scratch: pathlib.Path) -> pathlib.Path:
    """Lays out ``scratch/parsl/tests``: Parsl's test files and our conftest.py."""
    tests = scratch / 'parsl' / 'tests'
    tests.mkdir(parents=True)
    # Makes pytest name the test modules parsl.tests.…, as under Parsl; the import itself
    # goes to Chervil through the alias, never to this empty file.
    (scratch / 'parsl' / '__init__.py').write_text('')
    ignore = shutil.ignore_patterns('__pycache__', 'conftest.py')
    for name in FOLDERS + SUPPORT:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, tests / name, ignore=ignore)
        else:
            shutil.copy(src, tests / name)
    shutil.copy(HERE / 'conftest.py', tests / 'conftest.py')
    # An ini file of our own, so no pytest settings of a folder above apply to either run.
    (scratch / 'pytest.ini').write_text('[pytest]\n')
    return tests


def known_differences():
    """(config, test id) → reason, from the table in DIFFERENCES.md."""
    known = {}
    for line in (HERE / 'DIFFERENCES.md').read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 3 and (cells[0] in CONFIGS or cells[0] == 'all'):
            configs = CONFIGS if cells[0] == 'all' else [cells[0]]
            for config in configs:
                known[(config, cells[1].strip('`'))] = cells[2]
    return known


def read_report(path: pathlib.Path):
    """Test id (folder/module.py::name) → passed/failed/skipped."""
    return {row['id']: row['outcome'] for row in map(json.loads, path.read_text().splitlines())}


def stop_session(sid: int, what: str) -> None:
    """SIGKILLs, by pid, every process still in session ``sid``, saying what they were."""
    left = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
            if int(fields[3]) != sid or fields[0] == 'Z':  # (a zombie is gone already)
                continue
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                left.append((int(entry), f.read().replace(b'\0', b' ').decode(errors='replace')[:160]))
            os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue
    for pid, cmd in left:
        print(f'{what}: left running by the tests, stopped: {pid} {cmd}', flush=True)


def run_pytest(cmd, cwd, env, what, verbose):
    report = cwd / 'report.jsonl'
    env = dict(env, CHERVIL_SUITE_REPORT=str(report),
               PYTHONPATH=os.pathsep.join(filter(None, [env.get('PYTHONPATH'), str(HERE / 'site')])))
    print(f'== {what}', flush=True)
    log = cwd / 'pytest.log'
    # pytest runs in a session of its own, so whatever its tests leave running (Parsl's own
    # runs leave multiprocessing children behind) is found by session id and stopped by pid
    # afterwards, rather than outliving the suite on a shared machine.
    with open(log, 'w') as out:
        proc = subprocess.Popen([*cmd, '-p', 'parsl_suite_report', '-q', '-p', 'no:cacheprovider', '-rfE',
                                 '--tb=short', '-o', 'faulthandler_timeout=300',
                                 '--continue-on-collection-errors'],
                                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT_S)
        except KeyboardInterrupt:  # (a new session does not get the terminal's Ctrl-C)
            stop_session(proc.pid, what)
            raise
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            stop_session(proc.pid, what)
            print(f'{what}: pytest did not finish within {TIMEOUT_S} s', flush=True)
            return None
    stop_session(proc.pid, what)
    if verbose:
        print(log.read_text(), flush=True)
    else:
        print(log.read_text().rstrip().splitlines()[-1:][0] if log.stat().st_size else '(no output)')
    if proc.returncode not in (0, 1) or not report.exists():
        print(f'{what}: pytest stopped with exit code {proc.returncode}', flush=True)
        return None
    return read_report(report)


def run_chervil(config, tests, scratch, extra, verbose):
    """Parsl's tests, copied, with our conftest, on Chervil."""
    env = dict(os.environ, CHERVIL_PARSL_TESTS=str(tests))
    target = CONFIGS[config] if config == 'local' else str(tests / CONFIGS[config])
    cwd = scratch / f'chervil-{config}'
    cwd.mkdir()
    cmd = [sys.executable, '-m', 'pytest', '-c', str(scratch / 'pytest.ini'), '--rootdir', str(scratch), f'--config={target}',
           *[f'--ignore={tests / p}' for p in LEFT_OUT], *[str(tests / f) for f in FOLDERS], *extra]
    return run_pytest(cmd, cwd, env, f'Parsl tests on Chervil, config {config}', verbose)


def run_parsl(config, source, python, scratch, extra):
    """The same tests on Parsl itself, in place, with Parsl's own conftest: the reference."""
    bindir = os.path.dirname(python)  # Parsl's HTEX starts interchange.py from PATH
    env = dict(os.environ, PATH=os.pathsep.join([bindir, os.environ.get('PATH', '')]))
    env.pop('PYTHONPATH', None)
    target = CONFIGS[config] if config == 'local' else str(source / CONFIGS[config])
    cwd = scratch / f'parsl-{config}'
    cwd.mkdir()
    cmd = [python, '-m', 'pytest', '-c', str(scratch / 'pytest.ini'), '--rootdir', str(source), f'--config={target}', *[f'--ignore={source / p}' for p in LEFT_OUT],
           *[str(source / f) for f in FOLDERS], *extra]
    return run_pytest(cmd, cwd, env, f'Parsl tests on Parsl, config {config}', False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', action='append', choices=list(CONFIGS))
    parser.add_argument('--keep', action='store_true', help='keep the scratch folder (with each pytest.log)')
    parser.add_argument('-v', '--verbose', action='store_true', help="print Chervil's whole pytest output")
    parser.add_argument('--no-parsl', action='store_true',
                        help="do not run Parsl for reference: every test must pass on Chervil")
    parser.add_argument('pytest_args', nargs='*', help='passed to both pytest runs (after --)')
    ns = parser.parse_args(argv)
    configs = ns.config or list(CONFIGS)
    python = parsl_python()
    source = parsl_tests_dir(python)
    known = known_differences()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix='chervil-parsl-suite-'))
    ok = True
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    notes = []
    try:
        tests = copy_suite(source, scratch)
        for config in configs:
            reference = None if ns.no_parsl else run_parsl(config, source, python, scratch, ns.pytest_args)
            got = run_chervil(config, tests, scratch, ns.pytest_args, ns.verbose)
            if got is None or (reference is None and not ns.no_parsl):
                ok = False
                continue
            for test_id, state in sorted(got.items()):
                counts[state] += 1
                parsl_state = 'passed' if reference is None else reference.get(test_id, 'absent')
                reason = known.get((config, test_id))
                if state == 'failed' and parsl_state != 'passed':
                    notes.append(f'fails on Parsl too ({parsl_state}) [{config}] {test_id}')
                elif state == 'failed' and reason is None:
                    ok = False
                    notes.append(f'UNEXPECTED FAILURE (passes on Parsl) [{config}] {test_id}')
                elif state == 'passed' and reason is not None and not ns.pytest_args:
                    ok = False
                    notes.append(f'NOW PASSES [{config}] {test_id}: remove it from DIFFERENCES.md')
                elif state == 'failed':
                    notes.append(f'known difference [{config}] {test_id}: {reason}')
            if reference is not None:
                ran = {t.split('[')[0] for t in got}
                for test_id in sorted(t for t in set(reference) - set(got) if reference[t] == 'passed'):
                    if '[' in test_id and test_id.split('[')[0] in ran:
                        continue  # parametrized with random values: its ids differ from run to run
                    if test_id.split('::')[0] in LEFT_OUT:
                        continue  # (Parsl's conftest collects what --ignore names)
                    ok = False
                    notes.append(f'NOT RUN on Chervil but {reference[test_id]} on Parsl [{config}] {test_id}')
    finally:
        if ns.keep:
            print(f'scratch kept in {scratch}')
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("\n".join(notes))
    print(f"parsl-suite: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
