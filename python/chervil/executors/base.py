"""The executor interface the DataFlowKernel drives (Parsl's ``ParslExecutor``)."""
from abc import ABCMeta, abstractmethod
from concurrent.futures import Future
from typing import Any, Callable, Dict, Optional


class ParslExecutor(metaclass=ABCMeta):
    """Runs functions somewhere and returns futures for their results.

    The DataFlowKernel sets ``run_dir`` and ``run_id`` before ``start()``, calls
    ``submit(func, resource_specification, *args, **kwargs)`` for each try, and
    ``shutdown()`` at cleanup.
    """

    label: str = "undefined"

    def __init__(self) -> None:
        self.run_dir: str = "."
        self.run_id: Optional[str] = None
        self.storage_access = None
        self.working_dir: Optional[str] = None
        # The run's monitoring (chervil._core.Monitor), set by the DFK before start()
        # when the config has a MonitoringHub.
        self.monitor = None
        # Seconds between samples of the processes running tasks (0: none); set with monitor.
        self.resource_monitoring_interval = 0.0

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        self.shutdown()
        return False

    @abstractmethod
    def start(self) -> None:
        ...

    @abstractmethod
    def submit(self, func: Callable, resource_specification: Dict[str, Any], *args: Any, **kwargs: Any) -> Future:
        ...

    def shutdown(self) -> None:
        pass

    def monitor_resources(self) -> bool:
        return False
