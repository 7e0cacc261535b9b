"""Work Queue errors (``parsl.executors.workqueue.errors``)."""
from chervil.errors import ParslError
from chervil.executors.errors import ManagerTaskFailure


class WorkQueueTaskFailure(ManagerTaskFailure):
    """Work Queue could not run a task to the end (``reason``, ``status``)."""


class WorkQueueFailure(ParslError):
    """The executor itself failed, so the task could not run."""
