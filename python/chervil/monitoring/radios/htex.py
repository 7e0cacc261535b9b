"""``HTEXRadio``: monitoring over the HTEX connection — what Chervil's pools always do."""
from chervil.monitoring.radios.base import EngineCarried


class HTEXRadio(EngineCarried):
    """Resource samples travel with the pool's results to the interchange (Chervil's
    only way, so this changes nothing)."""
    chervil_note = "Chervil's pools send resource samples over their connection to the interchange, as this radio asks"


class HTEXRadioSender:
    """In Parsl, puts a message on the worker's result queue. Chervil's workers have no
    such queue (their pool samples them); sending raises, saying so."""

    def send(self, message: object) -> None:
        raise NotImplementedError(f"HTEXRadioSender: {HTEXRadio.chervil_note}")


class HTEXRadioReceiver:
    """Nothing to stop: the interchange receives."""

    def shutdown(self) -> None:
        pass
