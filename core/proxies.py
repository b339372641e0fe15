"""The client's address behind the TLS proxies named in TRUSTED_PROXIES.

`X-Forwarded-For` is read only when the direct peer (`REMOTE_ADDR`) is a trusted proxy, and then right
to left: each trusted proxy appends the address it received the request from, so the first hop from
the right that is not a trusted proxy is the client. Whatever a client writes into the header itself
sits to the left of that hop and is never read. A header that is empty or holds garbage where an
address should be falls back to `REMOTE_ADDR`, with a warning (a misconfigured proxy), never an error.
"""

import ipaddress
import logging
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:  # settings import this module; keep it free of django.http at start-up
    from django.http import HttpRequest

logger = logging.getLogger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks_parse(values: list[str] | tuple[str, ...]) -> tuple[IpNetwork, ...]:
    """Addresses or CIDRs; a typo raises ValueError at start-up (settings call this)."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


@lru_cache(maxsize=8)
def _trusted(values: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return trusted_networks_parse(values)


def address_parse(value: str) -> IpAddress | None:
    """An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(request: "HttpRequest | None") -> str:
    """The client's IP address as text; "unknown" when there is no request or no peer address."""
    if request is None:
        return "unknown"
    remote = request.META.get("REMOTE_ADDR") or ""
    networks = _trusted(tuple(settings.TRUSTED_PROXIES))
    peer = address_parse(remote)
    if peer is None or not networks or not _is_trusted(peer, networks):
        return str(peer) if peer is not None else (remote or "unknown")
    header = request.META.get("HTTP_X_FORWARDED_FOR")
    if header is None:
        # The proxy's own request (a health probe, say): it is the client.
        return str(peer)
    hops = header.split(",")
    leftmost = peer
    for hop in reversed(hops):
        address = address_parse(hop)
        if address is None:
            logger.warning(
                "X-Forwarded-For from trusted proxy %s has no address where one is due (%r); using the proxy",
                peer,
                header[:200],
            )
            return str(peer)
        if not _is_trusted(address, networks):
            return str(address)
        leftmost = address
    # Every hop is a trusted proxy: the request started at the farthest of them.
    return str(leftmost)
