"""``MultiprocessingQueueRadio`` (``parsl.monitoring.radios.multiprocessing``)."""
from chervil.monitoring.radios.base import EngineCarried


class MultiprocessingQueueRadio(EngineCarried):
    """Parsl's radio for executors in the submitting process. Chervil's executors record
    into the engine's monitor directly."""


class MultiprocessingQueueRadioSender:
    """Puts each message on ``queue``."""

    def __init__(self, queue) -> None:
        self.queue = queue

    def send(self, message: object) -> None:
        self.queue.put(message)


class MultiprocessingQueueRadioReceiver:
    """Nothing to stop: the queue's reader owns it."""

    def shutdown(self) -> None:
        pass
