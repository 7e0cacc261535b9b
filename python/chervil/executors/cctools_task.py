"""Runs one task on a Work Queue or TaskVine worker.

The manager ships this file into the task's sandbox with four more: ``map`` (where each
staged ``File`` is in the sandbox), ``function``, ``argument`` and, as output, ``result``.
In regular mode the worker runs ``python3 cctools_task.py map function argument result``;
in TaskVine's serverless mode a library process calls :func:`run` with the same names.

The result file holds a dict: ``result`` (the value, or a ``RemoteExceptionWrapper`` of
what the app raised, which the DataFlowKernel re-raises), and ``host``/``started``/
``ended`` (microseconds) for the monitoring database's try row; with monitoring,
``sample``, the process as it ended, for a ``resource`` row.
"""
import os
import socket
import sys
import time


def _remap(mapping, args, kwargs):
    """Points staged files at their names in the sandbox (shared-FS: absolute paths)."""
    from chervil.data_provider.files import File
    from chervil.utils import get_std_fname_mode

    def one(f):
        if isinstance(f, File) and (f.scheme == 'file' or f.local_path) and f.filepath in mapping:
            f.local_path = mapping[f.filepath]

    for a in args:
        one(a)
    for key, value in kwargs.items():
        if key in ('inputs', 'outputs'):
            for f in value or ():
                one(f)
        elif key in ('stdout', 'stderr'):
            if value and not isinstance(value, File):
                name, mode = get_std_fname_mode(key, value)
                if name in mapping:
                    kwargs[key] = (mapping[name], mode)
        else:
            one(value)


def _end_sample():
    """This process as it ends (with its reaped children: a bash app's command), in the
    order ``chervil._core.Monitor.resource`` takes: one ``resource`` row per try."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open('/proc/self/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    state, vms, cpu = fields[0], int(fields[20]), int(fields[36])
    rss = max(me.ru_maxrss, kids.ru_maxrss) * 1024  # the peak: what a try needed
    io = {}
    try:
        with open('/proc/self/io') as f:
            io = {k: int(v) for k, v in (line.split(':') for line in f)}
    except OSError:
        pass
    total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    return ((time.time_ns() // 1000, os.getpid(), cpu, state),
            (me.ru_utime + kids.ru_utime, me.ru_stime + kids.ru_stime, rss, vms, 100.0 * rss / total if total else 0.0),
            (io.get('read_bytes', 0), io.get('write_bytes', 0), me.ru_nvcsw + kids.ru_nvcsw, me.ru_nivcsw + kids.ru_nivcsw,
             0))


def run(map_file, function_file, argument_file, result_file):
    """Runs the task the files describe and writes its result file; never raises for
    the app's own errors (they travel in the result)."""
    from chervil.app.errors import RemoteExceptionWrapper
    from chervil.serialize import deserialize, serialize

    started = time.time_ns() // 1000
    call = {}
    try:
        with open(function_file, 'rb') as f:
            func = deserialize(f.read())
        with open(argument_file, 'rb') as f:
            call = deserialize(f.read())
        with open(map_file, 'rb') as f:
            mapping = deserialize(f.read())
        args, kwargs = call['args'], call['kwargs']
        _remap(mapping, args, kwargs)
        result = func(*args, **kwargs)
    except BaseException as e:  # noqa: B902 - SystemExit from an app is its failure too
        result = RemoteExceptionWrapper(type(e), e, e.__traceback__)
    outcome = {'result': result, 'host': socket.gethostname(), 'block': os.environ.get('PARSL_WORKER_BLOCK_ID'),
               'started': started, 'ended': time.time_ns() // 1000}
    if call.get('sample'):
        try:
            outcome['sample'] = _end_sample()
        except Exception:  # a /proc that is not Linux's: no row, the task still counts
            pass
    try:
        payload = serialize(outcome)
    except Exception as e:
        outcome['result'] = RemoteExceptionWrapper(type(e), e, e.__traceback__)
        payload = serialize(outcome)
    with open(result_file, 'wb') as f:
        f.write(payload)


def run_task(map_file, function_file, argument_file, result_file):
    """What a TaskVine serverless library calls (its code is shipped by name, so it only
    imports the real thing, which must be installed on the worker)."""
    from chervil.executors.cctools_task import run
    run(map_file, function_file, argument_file, result_file)


if __name__ == '__main__':
    if len(sys.argv) != 5:
        sys.exit("usage: cctools_task.py MAP FUNCTION ARGUMENT RESULT")
    try:
        run(*sys.argv[1:])
    except Exception as e:  # the result file could not be written: the manager reports it missing
        print(f"chervil: could not write the task's result: {e!r}", file=sys.stderr)
        sys.exit(1)
