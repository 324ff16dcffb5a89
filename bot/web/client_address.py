"""Which address a dashboard request comes from, for the failed-login counters.

The connecting address (``request.remote``) is the client, unless it is one of the configured reverse
proxies (``dashboard.trusted_proxies``: addresses or CIDR networks). Only then is ``X-Forwarded-For``
read, from the right: the right-most address that is not itself a trusted proxy is the client. Entries to
the left of it were written by the client and could be anything, so they are never believed; from an
untrusted peer the header is ignored altogether (anybody can send one).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=32)
def networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The configured proxies as networks (a bare address is a /32 or /128); bad entries raise ValueError."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted if entry.strip())


def _parse(value: str) -> IPAddress | None:
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def client_address(remote: str | None, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The client's address as text (``"unknown"`` when the peer's address is not known)."""
    peer = _parse(remote or "")
    if peer is None:
        return remote or "unknown"
    nets = networks(trusted)
    if not nets or not forwarded_for or not _trusted(peer, nets):
        return str(peer)
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        hop = _parse(entry)
        if hop is None:
            break  # garbage from the proxy chain: keep the last address we could believe
        client = hop
        if not _trusted(hop, nets):
            break
    return str(client)


__all__ = ["client_address", "networks"]
