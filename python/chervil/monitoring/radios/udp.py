"""``UDPRadio`` (``parsl.monitoring.radios.udp``)."""
from typing import Optional

from chervil.monitoring.radios.base import EngineCarried


class UDPRadio(EngineCarried):
    """Parsl's UDP radio (HMAC-signed datagrams to ``address``:``port``). Chervil's pools
    send their samples over their own TLS connection instead; the arguments are kept."""

    def __init__(self, *, port: Optional[int] = None, atexit_timeout: int = 3, address: str, debug: bool = False,
                 hmac_digest: str = 'sha512') -> None:
        self.port = port
        self.atexit_timeout = atexit_timeout
        self.address = address
        self.debug = debug
        self.hmac_digest = hmac_digest


class UDPRadioSender:
    """Sends a message as one datagram: the HMAC (``hmac_digest``, keyed by ``hmac_key``)
    of its pickle, then the pickle, to ``address``:``port`` — the form Parsl's UDP
    receiver checks. Best effort, like UDP: a message that cannot be pickled or sent is
    logged and dropped."""

    def __init__(self, address: str, port: int, hmac_key: bytes, hmac_digest: str, *, timeout: int = 10) -> None:
        import socket
        self.address = address
        self.port = port
        self.hmac_key = hmac_key
        self.hmac_digest = hmac_digest
        self.sock_timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.sock.settimeout(timeout)

    def send(self, message: object) -> None:
        import hmac
        import logging
        import pickle
        try:
            data = pickle.dumps(message)
            self.sock.sendto(hmac.digest(self.hmac_key, data, self.hmac_digest) + data, (self.address, self.port))
        except Exception:
            logging.getLogger(__name__).exception("monitoring message to %s:%s not sent", self.address, self.port)
