"""``python -m chervil`` (also the ``chervil`` command).

``run [--no-progress] script.py [args…]`` runs a script written for Parsl on Chervil,
unchanged, with a live progress line on stderr when that is a terminal;
``perf [options]`` measures tasks per second, like ``parsl-perf``.
"""
import argparse
import os
import runpy
import sys


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 1 to 65535, or 0 for any free port")
    return port


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='chervil', description="Parsl's parallel scripting on a Rust engine")
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help="run a Parsl script on Chervil, unchanged (import parsl → chervil)")
    run.add_argument('--no-progress', action='store_true',
                     help="no live progress line on stderr (it is drawn only when stderr is a terminal)")
    run.add_argument('script', help="the Python script to run")
    run.add_argument('args', nargs=argparse.REMAINDER, help="arguments passed to the script")
    sub.add_parser('version', help="print Chervil's version")
    dash = sub.add_parser('dashboard', help="a web page over a monitoring database (runs, tasks, resources; live)")
    dash.add_argument('db', nargs='?', default=os.path.join('runinfo', 'monitoring.db'),
                      help="the monitoring database (default: runinfo/monitoring.db); sqlite:///path works too")
    dash.add_argument('--port', type=_port, default=8080, help="port to listen on (default 8080; 0: any free port)")
    dash.add_argument('--host', default='127.0.0.1',
                      help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 for all)")
    sub.add_parser('perf', help="measure tasks per second of a config (like parsl-perf); perf -h for options")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['perf']:  # its options are its own
        from chervil.benchmark.perf import main as perf_main
        return perf_main(argv[1:])
    ns = parser.parse_args(argv)

    if ns.command == 'dashboard':
        from chervil import _core
        db = ns.db[len('sqlite:///'):] if ns.db.startswith('sqlite:///') else ns.db
        sys.stdout.reconfigure(line_buffering=True)
        try:
            _core.serve_dashboard(db, ns.host, ns.port)
        except KeyboardInterrupt:
            return 0
        except ValueError as e:
            parser.error(str(e))
        except _core.EngineError as e:
            print(f"chervil dashboard: {e}", file=sys.stderr)
            return 1
        return 0
    if ns.command == 'version':
        import platform
        from chervil import __commit__, __version__
        print(f"chervil {__version__} (engine commit {__commit__}, "
              f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()})")
        return 0
    if not os.path.isfile(ns.script):
        parser.error(f"no such script: {ns.script}")
    from chervil import compat
    compat.install()
    # The progress line: on by default here, drawn only on a terminal; CHERVIL_PROGRESS=0 or
    # --no-progress turn it off (any script can turn it on with CHERVIL_PROGRESS=1).
    if ns.no_progress:
        os.environ['CHERVIL_PROGRESS'] = '0'
    else:
        os.environ.setdefault('CHERVIL_PROGRESS', '1')
    sys.argv = [ns.script, *ns.args]
    # As `python script.py` would: the script's own folder comes first on the path.
    sys.path.insert(0, os.path.dirname(os.path.abspath(ns.script)))
    try:
        runpy.run_path(ns.script, run_name='__main__')
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
