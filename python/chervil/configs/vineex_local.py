"""Parsl's ``vineex_local`` preset: a TaskVine manager whose factory keeps one local worker.
Workers connect by address and port, so the project name only labels the manager in the
CCTools catalog (which need not be reachable)."""
import uuid

from chervil.config import Config
from chervil.executors.taskvine import TaskVineExecutor, TaskVineManagerConfig
from chervil.usage_tracking.levels import LEVEL_1

config = Config(
    executors=[
        TaskVineExecutor(
            label="parsl-vine-example",
            manager_config=TaskVineManagerConfig(project_name="parsl-vine-" + str(uuid.uuid4())),
        )
    ],
    usage_tracking=LEVEL_1,
)
