"""Launcher errors (``parsl.launchers.errors``)."""
from chervil.providers.errors import ExecutionProviderException


class BadLauncher(ExecutionProviderException, TypeError):
    """A provider was given something that cannot launch workers: not a Launcher, nor a
    callable taking ``(command, tasks_per_node, nodes_per_block)``."""

    def __init__(self, launcher) -> None:
        super().__init__(launcher)
        self.launcher = launcher

    def __str__(self) -> str:
        return (f"Bad Launcher provided: {self.launcher!r}, expecting a chervil.launchers Launcher "
                "(SingleNodeLauncher(), SrunLauncher(), …) or a callable (command, tasks_per_node, nodes_per_block)")
