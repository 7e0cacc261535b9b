"""``MonitoringHub``: Parsl's monitoring configuration, recorded by Chervil's engine.

Parsl runs a hub process, a router and a database manager, and sends every event
through them; Chervil's kernel hands each state change straight to one writer thread
in the engine (``chervil-monitor``), which commits rows in batches. The database is
Parsl's (same file, tables and columns), so ``parsl-visualize`` and users' own SQL
read it, and runs of either system can share one file.
"""
import getpass
import logging
import os
import socket
import time
from typing import Any, Optional

import typeguard

from chervil import _core
from chervil.errors import ConfigurationError

logger = logging.getLogger(__name__)


class MonitoringHub:
    """Parsl's parameters and defaults. ``hub_address``, ``hub_port`` and
    ``hub_port_range`` are accepted and unused (nothing listens on a port);
    ``logging_endpoint`` must be ``sqlite:///path`` (default:
    ``sqlite:///<config run_dir>/monitoring.db``, i.e. ``runinfo/monitoring.db``)."""

    @typeguard.typechecked
    def __init__(self,
                 hub_address: Any = None,
                 hub_port_range: Any = None,
                 hub_port: Any = None,
                 workflow_name: Optional[str] = None,
                 workflow_version: Optional[str] = None,
                 logging_endpoint: Optional[str] = None,
                 monitoring_debug: bool = False,
                 resource_monitoring_enabled: bool = True,
                 resource_monitoring_interval: float = 30):
        if logging_endpoint is not None and (not logging_endpoint.startswith('sqlite:///')
                                             or logging_endpoint == 'sqlite:///'):
            raise ConfigurationError(
                f"MonitoringHub(logging_endpoint={logging_endpoint!r}): Chervil records monitoring in SQLite "
                "only; give 'sqlite:///relative/path.db' or 'sqlite:////absolute/path.db', or leave it unset "
                "for runinfo/monitoring.db")
        if resource_monitoring_interval < 0:
            raise ConfigurationError(f"MonitoringHub(resource_monitoring_interval={resource_monitoring_interval!r}): "
                                     "give a number of seconds, 0 or more")
        self.hub_address = hub_address
        self.hub_port_range = hub_port_range
        self.hub_port = hub_port
        self.workflow_name = workflow_name
        self.workflow_version = workflow_version
        self.logging_endpoint = logging_endpoint
        self.monitoring_debug = monitoring_debug
        self.resource_monitoring_enabled = resource_monitoring_enabled
        self.resource_monitoring_interval = resource_monitoring_interval
        self._monitor: Optional[Any] = None

    def start(self, run_id: str, dfk_run_dir: str, config_run_dir: str) -> Any:
        """Opens the database (made when missing) and records the run's start;
        returns the engine's monitor, which the DFK gives its kernel and executors."""
        if self.logging_endpoint is None:
            self.logging_endpoint = f"sqlite:///{os.fspath(config_run_dir)}/monitoring.db"
        monitor = _core.Monitor(self.logging_endpoint, run_id, time.localtime().tm_gmtoff)
        try:
            user = getpass.getuser()
        except Exception:
            user = str(os.getuid())
        monitor.workflow_started(self.workflow_name, self.workflow_version, socket.gethostname(), user,
                                 os.path.abspath(dfk_run_dir))
        self._monitor = monitor
        logger.info("Monitoring run %s into %s", run_id, self.logging_endpoint)
        return monitor

    def close(self) -> None:
        """Stops the writer (the kernel has closed the workflow row: ``end_workflow``);
        says what was not recorded."""
        monitor, self._monitor = self._monitor, None
        if monitor is None:
            return
        recorded, lost, error = monitor.close()
        if lost:
            logger.error("Monitoring could not record %d of %d events in %s: %s. The run itself was not affected.",
                         lost, lost + recorded, self.logging_endpoint, error)
        else:
            logger.info("Monitoring recorded %d events in %s", recorded, self.logging_endpoint)

    def __repr__(self) -> str:
        return (f"MonitoringHub(workflow_name={self.workflow_name!r}, logging_endpoint={self.logging_endpoint!r}, "
                f"resource_monitoring_interval={self.resource_monitoring_interval!r})")
