"""Launchers (``parsl.launchers``): functions from the pool command to the command a
block's job runs, so that the pool starts once per node or per rank. The script
text is made by the engine (``chervil-providers::launchers``); these classes hold
the options, with Parsl's names and defaults.

Launchers that hand the command to a parallel runner (srun, mpiexec, …) write it
to a file only its owner can read, because it carries the run's secret, and
remove it when the runner is done.
"""
import logging

from chervil import _core

logger = logging.getLogger(__name__)


class Launcher:
    """Turns ``command`` into what a block's job runs."""

    #: The engine's name for this launcher.
    _kind = ''

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    def _options(self) -> dict:
        return {}

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int, script_dir: str = '') -> str:
        return _core.launcher_script(self._kind, command, int(tasks_per_node), int(nodes_per_block),
                                     script_dir=script_dir or '', debug=self.debug, **self._options())

    def __repr__(self) -> str:
        fields = ', '.join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class _WithOverrides(Launcher):
    def __init__(self, debug: bool = True, overrides: str = '') -> None:
        super().__init__(debug=debug)
        self.overrides = overrides

    def _options(self) -> dict:
        return {'overrides': self.overrides}


class SimpleLauncher(Launcher):
    """Runs the command once, as it is (for a command that starts its own copies)."""

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int, script_dir: str = '') -> str:
        return command


class WrappedLauncher(Launcher):
    """Runs the command once behind ``prepend`` (``time``, a container runner, …);
    ignores the per-node and per-block counts, as Parsl's does."""

    _kind = 'wrapped'

    def __init__(self, prepend: str, debug: bool = True) -> None:
        super().__init__(debug=debug)
        self.prepend = prepend

    def _options(self) -> dict:
        return {'prepend': self.prepend}

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int, script_dir: str = '') -> str:
        if tasks_per_node > 1 or nodes_per_block > 1:
            logger.warning("WrappedLauncher starts one copy of the command: it ignores the number of tasks "
                           "per node (tasks_per_node=%s) and of nodes per block (nodes_per_block=%s)",
                           tasks_per_node, nodes_per_block)
        return super().__call__(command, tasks_per_node, nodes_per_block, script_dir)


class SingleNodeLauncher(Launcher):
    """Runs ``tasks_per_node × nodes_per_block`` copies on the node the job starts on;
    the job fails when all copies fail (or any, with ``fail_on_any``)."""

    _kind = 'single_node'

    def __init__(self, debug: bool = True, fail_on_any: bool = False) -> None:
        super().__init__(debug=debug)
        self.fail_on_any = fail_on_any

    def _options(self) -> dict:
        return {'fail_on_any': self.fail_on_any}


class SrunLauncher(_WithOverrides):
    """``srun`` starts the copies as tasks of the block's Slurm allocation;
    ``overrides`` are extra ``srun`` options."""

    _kind = 'srun'


class SrunMPILauncher(_WithOverrides):
    """One ``srun`` per copy, each with its share of the allocation, so each pool can
    start MPI applications of its own."""

    _kind = 'srun_mpi'


class AprunLauncher(_WithOverrides):
    """Cray's ``aprun -n <copies> -N <tasks_per_node>``."""

    _kind = 'aprun'


class JsrunLauncher(_WithOverrides):
    """IBM's ``jsrun -n <copies> -r <tasks_per_node>`` (LSF machines such as Summit)."""

    _kind = 'jsrun'


class MpiExecLauncher(_WithOverrides):
    """``mpiexec`` over the job's nodes (from ``$PBS_NODEFILE``, Slurm's node list, or
    this host); ``bind_cmd none`` leaves CPU placement to the pool."""

    _kind = 'mpiexec'

    def __init__(self, debug: bool = True, bind_cmd: str = '--bind-to', overrides: str = '') -> None:
        super().__init__(debug=debug, overrides=overrides)
        self.bind_cmd = bind_cmd

    def _options(self) -> dict:
        return {'overrides': self.overrides, 'bind_cmd': self.bind_cmd}


class MpiRunLauncher(_WithOverrides):
    """``mpirun -np <copies>``."""

    _kind = 'mpirun'

    def __init__(self, debug: bool = True, bash_location: str = '/bin/bash', overrides: str = '') -> None:
        super().__init__(debug=debug, overrides=overrides)
        self.bash_location = bash_location

    def _options(self) -> dict:
        return {'overrides': self.overrides, 'bash_location': self.bash_location}


class GnuParallelLauncher(Launcher):
    """GNU ``parallel`` over ssh to the job's nodes, ``tasks_per_node`` on each; on one
    node no ssh is needed."""

    _kind = 'gnu_parallel'
