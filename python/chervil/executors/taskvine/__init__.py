"""The TaskVine executor (``parsl.executors.taskvine``)."""
from chervil.executors.taskvine.executor import TaskVineExecutor
from chervil.executors.taskvine.factory_config import TaskVineFactoryConfig
from chervil.executors.taskvine.manager_config import TaskVineManagerConfig

__all__ = ['TaskVineExecutor', 'TaskVineManagerConfig', 'TaskVineFactoryConfig']
