"""Monitoring errors (``parsl.monitoring.errors``)."""
from chervil.errors import ParslError


class MonitoringRouterStartError(ParslError):
    """Parsl's monitoring router process did not start. Chervil starts no router (its
    monitor is an engine thread); kept so that code catching it still loads."""

    def __str__(self) -> str:
        return "Monitoring router failed to start"


class RadioRequiredError(ParslError):
    """Remote task monitoring was asked for without a way to send it."""

    def __str__(self) -> str:
        return "A radio must be configured for remote task monitoring"
