"""Bash apps: the function returns a command line, which runs in a shell."""
import os
from functools import partial, update_wrapper
from inspect import Parameter

from chervil._core import run_shell
from chervil.app import errors as pe
from chervil.app.app import AppBase
from chervil.data_provider.files import File
from chervil.utils import get_std_fname_mode


def _open_std(name: str, spec):
    if spec is None:
        return None
    if isinstance(spec, File):
        fname, mode = spec.filepath, 'w'
    else:
        fname, mode = get_std_fname_mode(name, spec)
    try:
        parent = os.path.dirname(fname)
        if parent:
            os.makedirs(parent, exist_ok=True)
        return open(fname, mode)
    except Exception as e:
        raise pe.BadStdStreamFile(f"cannot open {name} file {fname!r} with mode {mode!r}: {e}") from e


def remote_side_bash_executor(func, *args, **kwargs):
    """Runs where the task runs: builds the command line and runs it with bash."""
    func_name = getattr(func, '__name__', 'bash_app')
    try:
        command = func(*args, **kwargs)
    except (IndexError, KeyError) as e:
        raise pe.AppBadFormatting(f"App formatting failed for app '{func_name}' with {type(e).__name__}: {e}") from e
    if not isinstance(command, str):
        raise pe.BashAppNoReturn(
            f"bash_app '{func_name}' must return the command line to run as a str, but returned "
            f"{type(command).__name__} ({command!r}); end the function with e.g. return f'echo {{x}}'")

    std_out = _open_std('stdout', kwargs.get('stdout'))
    std_err = _open_std('stderr', kwargs.get('stderr'))
    walltime = kwargs.get('walltime')
    try:
        if std_err is not None:
            print(f'--> executable follows <--\n{command}\n--> end executable <--', file=std_err, flush=True)
        try:
            # The engine starts it (chervil-run's `shell`): posix_spawn with the environment
            # as it is, a fraction of Popen's cost. With a walltime it runs in a session of
            # its own, so a timeout kills the whole command tree.
            returncode = run_shell(command, stdout=None if std_out is None else std_out.fileno(),
                                   stderr=None if std_err is None else std_err.fileno(), walltime=walltime)
        except (OSError, ValueError) as e:
            raise pe.AppException(f"App {func_name} could not start its command: {e}", e) from e
        if returncode is None:
            raise pe.AppTimeout(f"App {func_name} exceeded walltime: {walltime} seconds")
    finally:
        for f in (std_out, std_err):
            if f is not None:
                f.close()

    if returncode != 0:
        raise pe.BashExitFailure(func_name, returncode)
    missing = [f for f in kwargs.get('outputs', None) or [] if not os.path.exists(getattr(f, 'filepath', f))]
    if missing:
        raise pe.MissingOutputs(f"Missing outputs from app {func_name}", missing)
    return returncode


class BashApp(AppBase):
    """A function returning a command line, run as a task."""

    def __init__(self, func, data_flow_kernel=None, cache=False, executors='all', ignore_for_cache=None):
        super().__init__(func, data_flow_kernel=data_flow_kernel, executors=executors, cache=cache,
                         ignore_for_cache=ignore_for_cache)
        self.kwargs = {name: p.default for name, p in self.parameters.items() if p.default is not Parameter.empty}
        self.wrapped_remote_function = update_wrapper(partial(remote_side_bash_executor, self.func), self.func)

    def __call__(self, *args, **kwargs):
        invocation_kwargs = dict(self.kwargs)
        invocation_kwargs.update(kwargs)
        return self._dfk().submit(self.wrapped_remote_function, app_args=args, executors=self.executors,
                                  cache=self.cache, ignore_for_cache=self.ignore_for_cache,
                                  app_kwargs=invocation_kwargs)
