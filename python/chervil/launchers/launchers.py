"""Launchers are functions from the pool command to the command a job runs; the
script text is made by the engine (``chervil-providers``)."""
from chervil import _core


class Launcher:
    """Turns ``command`` into what a block's job runs, once per node or rank."""

    def __init__(self, debug: bool = True) -> None:
        self.debug = debug

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ', '.join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class SimpleLauncher(Launcher):
    """Runs the command once, as it is."""

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        return command


class SingleNodeLauncher(Launcher):
    """Runs ``tasks_per_node × nodes_per_block`` copies of the command on the node the
    job starts on; the job fails when all copies fail (or any, with ``fail_on_any``)."""

    def __init__(self, debug: bool = True, fail_on_any: bool = False) -> None:
        super().__init__(debug=debug)
        self.fail_on_any = fail_on_any

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        return _core.single_node_launcher(command, int(tasks_per_node), int(nodes_per_block),
                                          fail_on_any=self.fail_on_any, debug=self.debug)


class SrunLauncher(Launcher):
    """Runs ``tasks_per_node × nodes_per_block`` copies of the command with ``srun``
    inside the block's Slurm allocation; ``overrides`` are extra ``srun`` options."""

    def __init__(self, debug: bool = True, overrides: str = '') -> None:
        super().__init__(debug=debug)
        self.overrides = overrides

    def __call__(self, command: str, tasks_per_node: int, nodes_per_block: int) -> str:
        return _core.srun_launcher(command, int(tasks_per_node), int(nodes_per_block),
                                   overrides=self.overrides, debug=self.debug)
