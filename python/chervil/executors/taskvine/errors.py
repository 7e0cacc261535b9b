"""TaskVine errors (``parsl.executors.taskvine.errors``)."""
from chervil.errors import ParslError
from chervil.executors.errors import ManagerTaskFailure


class TaskVineTaskFailure(ManagerTaskFailure):
    """TaskVine could not run a task to the end (``reason``, ``status``)."""


class TaskVineManagerFailure(ParslError):
    """The manager failed, so the task could not run."""


class TaskVineFactoryFailure(ParslError):
    """The factory could not supply workers to the manager."""
