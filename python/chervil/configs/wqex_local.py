"""Parsl's ``wqex_local`` preset: a Work Queue manager on port 9123 with workers from one
local block. Workers connect by address and port, so the project name only labels the
manager in the CCTools catalog (which need not be reachable)."""
import uuid

from chervil.config import Config
from chervil.executors import WorkQueueExecutor
from chervil.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        WorkQueueExecutor(
            label="parsl-wq-example",
            project_name="parsl-wq-" + str(uuid.uuid4()),
            port=9123,
            shared_fs=False,
        )
    ],
    usage_tracking=LEVEL_1,
)
