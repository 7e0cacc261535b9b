"""The kinds of monitoring message (``parsl.monitoring.message_type``), as Parsl numbers
them. Chervil's engine passes its own events, not these messages; the names are here for
code that tags or filters Parsl's."""
from enum import Enum


class MessageType(Enum):
    TASK_INFO = 0
    RESOURCE_INFO = 1
    WORKFLOW_INFO = 2
    NODE_INFO = 3
    BLOCK_INFO = 4
    WORKER_TASK_INFO = 5
