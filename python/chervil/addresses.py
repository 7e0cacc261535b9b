"""Ways to name this machine to pools on other machines (``parsl.addresses``)."""
import logging
import socket
from typing import Set

logger = logging.getLogger(__name__)


def address_by_hostname() -> str:
    """This machine's fully qualified name."""
    return socket.getfqdn()


def address_by_route() -> str:
    """The address this machine uses to reach the outside (no packet is sent)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("8.8.8.8", 53))
        return s.getsockname()[0]
    finally:
        s.close()


def address_by_interface(ifname: str) -> str:
    """The IPv4 address of network interface ``ifname`` (Linux)."""
    import fcntl
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack('256s', ifname[:15].encode()))  # SIOCGIFADDR
        return socket.inet_ntoa(packed[20:24])
    except OSError as e:
        # Site presets name their cluster's interface (ib0, bond0, …): say which ones exist here.
        here = ', '.join(name for _, name in socket.if_nameindex())
        raise OSError(e.errno, f"address_by_interface({ifname!r}): no IPv4 address on network interface "
                               f"{ifname!r} here ({e.strerror}); this machine has: {here}. Name one of "
                               "those, or use address_by_route() or address_by_hostname()") from None
    finally:
        s.close()


def get_all_addresses() -> Set[str]:
    """Every address this machine may be reachable at, best guesses first tried by pools."""
    found = set()
    for how in (address_by_route, address_by_hostname):
        try:
            found.add(how())
        except OSError:
            logger.debug("%s found no address", how.__name__, exc_info=True)
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(info[4][0])
    except OSError:
        pass
    try:
        import os
        for ifname in os.listdir('/sys/class/net'):
            try:
                found.add(address_by_interface(ifname))
            except OSError:
                pass
    except OSError:
        pass
    return found
