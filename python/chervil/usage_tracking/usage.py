"""Usage tracking (``parsl.usage_tracking.usage``). Chervil reports nothing anywhere:
``UsageTracker`` composes the messages Parsl would send (so code that inspects them
works) and never sends them. ``udp_messenger`` sends what it is called with, and
nothing calls it."""
import json
import logging
import platform
import socket
import sys
import time
import uuid
from typing import Callable, List

from chervil.errors import ConfigurationError
from chervil.multiprocessing import SpawnProcess
from chervil.usage_tracking.api import get_parsl_usage
from chervil.usage_tracking.levels import DISABLED, LEVEL_3

logger = logging.getLogger(__name__)


def async_process(fn: Callable[..., None]) -> Callable[..., object]:
    """Runs ``fn`` in a spawned process of its own (returns the process)."""
    def run(*args, **kwargs):
        proc = SpawnProcess(target=fn, args=args, kwargs=kwargs, name="Usage-Tracking")
        proc.start()
        return proc
    return run


def udp_messenger(domain_name: str, UDP_PORT: int, sock_timeout: int, message: bytes) -> None:
    """Sends ``message`` in one datagram to ``domain_name``:``UDP_PORT``; failures are
    logged, never raised. (Chervil never calls this.)"""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(sock_timeout)
            sock.sendto(message, (socket.gethostbyname(domain_name), UDP_PORT))
    except Exception as e:
        logger.debug("usage message not sent: %s", e)


class UsageTracker:
    """Parsl's usage tracker, minus the sending: Chervil sends no usage data."""

    def __init__(self, dfk, port: int = 50077, domain_name: str = 'tracking.parsl-project.org') -> None:
        from chervil import __version__
        self.domain_name = domain_name
        self.sock_timeout = 5
        self.UDP_PORT = port
        self.procs: List = []
        self.dfk = dfk
        self.config = dfk.config
        self.correlator_uuid = str(uuid.uuid4())
        self.parsl_version = __version__
        self.python_version = "{}.{}.{}".format(*sys.version_info[:3])
        self.tracking_level = self.check_tracking_level()
        self.project_name = self.config.project_name
        self.start_time = None

    def check_tracking_level(self) -> int:
        """``Config.usage_tracking`` as a level 0–3 (True is 1, False 0)."""
        level = int(self.config.usage_tracking)
        if not DISABLED <= level <= LEVEL_3:
            raise ConfigurationError(f"usage_tracking must be 0, 1, 2 or 3, not {self.config.usage_tracking!r}")
        return level

    def construct_start_message(self) -> bytes:
        message = {'correlator': self.correlator_uuid, 'parsl_v': self.parsl_version, 'python_v': self.python_version,
                   'platform.system': platform.system(), 'tracking_level': self.tracking_level}
        if self.project_name:
            message['project_name'] = self.project_name
        if self.tracking_level >= 2:
            message['components'] = get_parsl_usage(self.config)
        if self.tracking_level == 3:
            self.start_time = int(time.time())
            message['start'] = self.start_time
        return self.encode_message(message)

    def construct_end_message(self) -> bytes:
        from chervil.dataflow.states import States
        counts = self.dfk.task_state_counts
        dfk = {'c': f"{type(self.dfk).__module__}.{type(self.dfk).__name__}", 'app_count': self.dfk.task_count,
               'app_fails': counts[States.failed] + counts[States.dep_fail]}
        message = {'correlator': self.correlator_uuid, 'end': int(time.time()),
                   'components': [dfk, *get_parsl_usage(self.config)]}
        return self.encode_message(message)

    def encode_message(self, obj) -> bytes:
        return json.dumps(obj).encode()

    def send_UDP_message(self, message: bytes) -> None:
        logger.debug("usage tracking: Chervil sends nothing (%d bytes not sent)", len(message))

    def send_start_message(self) -> None:
        if self.tracking_level:
            self.send_UDP_message(self.construct_start_message())

    def send_end_message(self) -> None:
        if self.tracking_level == LEVEL_3:
            self.send_UDP_message(self.construct_end_message())

    def close(self, timeout: float = 10.0) -> None:
        for proc in self.procs:
            proc.join(timeout)
