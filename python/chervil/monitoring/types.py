"""Type names for monitoring messages (``parsl.monitoring.types``)."""
from typing import Any, Dict, Tuple

from chervil.monitoring.message_type import MessageType

MonitoringMessage = Dict[str, Any]
TaggedMonitoringMessage = Tuple[MessageType, MonitoringMessage]
