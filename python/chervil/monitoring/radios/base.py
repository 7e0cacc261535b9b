"""The radio interfaces (``parsl.monitoring.radios.base``)."""
from abc import ABCMeta, abstractmethod


class MonitoringRadioReceiver(metaclass=ABCMeta):
    """The submit side of a radio."""

    @abstractmethod
    def shutdown(self) -> None:
        ...


class MonitoringRadioSender(metaclass=ABCMeta):
    """The worker side of a radio."""

    @abstractmethod
    def send(self, message: object) -> None:
        ...


class RadioConfig(metaclass=ABCMeta):
    """A way of carrying monitoring messages from workers, as an executor is configured
    with it (``remote_monitoring_radio=``). See ``chervil.monitoring.radios`` for what
    Chervil does with each."""

    #: What Chervil does with this radio, for the executor's log.
    chervil_note = ("Chervil's pools send resource samples over their own connection to the interchange; "
                    "this radio is accepted and not used")

    @abstractmethod
    def create_receiver(self, *, run_dir: str, resource_msgs) -> MonitoringRadioReceiver:
        ...

    @abstractmethod
    def create_sender(self) -> MonitoringRadioSender:
        ...


class EngineCarried(RadioConfig):
    """A radio whose work Chervil's pools do over their own connection."""

    def create_receiver(self, *, run_dir: str, resource_msgs) -> MonitoringRadioReceiver:
        raise NotImplementedError(f"{type(self).__name__}: {self.chervil_note}")

    def create_sender(self) -> MonitoringRadioSender:
        raise NotImplementedError(f"{type(self).__name__}: {self.chervil_note}")

    def __repr__(self) -> str:
        args = ', '.join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"
