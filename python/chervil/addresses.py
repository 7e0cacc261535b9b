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


def address_by_query(timeout: float = 30) -> str:
    """This machine's address as the internet sees it, asked of ipify.org over HTTPS.
    Behind NAT, or where workers cannot reach that address, it is the wrong answer;
    without internet access it raises (``OSError``), naming the service."""
    import urllib.request
    try:
        with urllib.request.urlopen('https://api.ipify.org', timeout=timeout) as reply:
            return reply.read().decode().strip()
    except OSError as e:
        raise OSError(f"address_by_query: cannot ask https://api.ipify.org for this machine's address ({e}); "
                      "use address_by_route(), address_by_hostname() or address_by_interface(name)") from e


def get_any_address() -> str:
    """One address of this machine: a network interface's first (in the order the system
    lists them), else by hostname, by route, and last by asking ipify.org."""
    import os
    try:
        interfaces = sorted(os.listdir('/sys/class/net'))
    except OSError:
        interfaces = [name for _, name in socket.if_nameindex()]
    for ifname in interfaces:
        try:
            return address_by_interface(ifname)
        except OSError:
            logger.debug("no address on interface %s", ifname)
    for how in (address_by_hostname, address_by_route, address_by_query):
        try:
            return how()
        except OSError:
            logger.debug("%s found no address", how.__name__, exc_info=True)
    raise OSError("cannot find an address of this machine (no interface has one, and neither the hostname, "
                  "the route nor ipify.org gave one)")


def tcp_url(address: str, port=None) -> str:
    """``tcp://address[:port]``, with an IPv6 address in brackets when a port follows; ``*``
    stands for every address."""
    import ipaddress
    suffix = f":{port}" if port else ""
    if address == "*":
        return "tcp://*" + suffix
    if ipaddress.ip_address(address).version == 6 and suffix:
        return f"tcp://[{address}]{suffix}"
    return f"tcp://{address}{suffix}"
