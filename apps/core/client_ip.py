"""The client's IP address, believing X-Forwarded-For only as far as settings say our proxies wrote it."""

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from python_ipware import IpWare

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def _networks(entries: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse_ip(value: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: Any, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, believing X-Forwarded-For only as far as settings say our proxies wrote it.

    - Neither TRUSTED_PROXIES nor PROXY_COUNT: the socket peer (REMOTE_ADDR); forwarded headers are ignored,
      since any client can send them.
    - PROXY_COUNT = n: exactly n proxies of ours stand in front; the client is the n-th address from the right
      of X-Forwarded-For + peer (python-ipware, the engine of django-ipware; the peer is the last proxy).
    - TRUSTED_PROXIES (addresses or CIDR networks): only when the peer is one of them, walk X-Forwarded-For
      from the right past trusted proxies; the first untrusted address is the client.
    """
    return client_ip_from(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


@lru_cache(maxsize=8)
def _ipware(proxies_in_header: int) -> IpWare:
    return IpWare(precedence=("HTTP_X_FORWARDED_FOR",), leftmost=True, proxy_count=proxies_in_header)


def client_ip_from(remote_addr: str | None, forwarded_for: str | None) -> str | None:
    """`client_ip` from the two values it reads (REMOTE_ADDR, X-Forwarded-For)."""
    trusted_entries: list[str] = settings.TRUSTED_PROXIES
    proxy_count: int = settings.PROXY_COUNT
    if not trusted_entries and proxy_count <= 0:
        return remote_addr or None  # the common case costs nothing: the server gives a plain address
    peer = _parse_ip(remote_addr)
    if peer is None or not forwarded_for:
        return str(peer) if peer is not None else (remote_addr or None)

    if trusted_entries:
        networks = _networks(tuple(trusted_entries))
        if not _is_trusted(peer, networks):
            return str(peer)
        for part in reversed(forwarded_for.split(",")):
            hop = _parse_ip(part)
            if hop is None:  # garbage in the chain: stop believing it, the last trusted hop is the answer
                break
            if not _is_trusted(hop, networks):
                return str(hop)
            peer = hop
        return str(peer)

    # The peer is the last proxy and is not in the header: ipware counts only the proxies inside the header.
    ip, _trusted = _ipware(proxy_count - 1).get_client_ip({"HTTP_X_FORWARDED_FOR": forwarded_for}, False)
    address = _parse_ip(str(ip)) if ip is not None else None
    return str(address) if address is not None else str(peer)
