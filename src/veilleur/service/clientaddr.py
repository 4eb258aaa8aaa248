"""Who is asking: the address the rate limits, the audit log and the metrics' allow-list use.

It is the socket's peer. `X-Forwarded-For` is anybody's to write, so it is read only when the
peer is a proxy the operator named (`--trusted-proxy CIDR`), and then only as far as the
proxies named: walking the header from the right (each proxy appends the address it saw), the
first address that is not a trusted proxy is the client. What a client wrote to the left of
that is ignored, so a spoofed header cannot buy a fresh rate-limit bucket per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_networks(values: Iterable[str], what: str = "--trusted-proxy") -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; a bad one is named in the error."""
    out = []
    for value in values:
        try:
            out.append(ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an IP address or a CIDR range "
                             "(e.g. 10.0.0.0/8, 127.0.0.1, ::1)") from None
    return tuple(out)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def within(address: str, networks: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in net for net in networks)


def client_ip(peer: str | None, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address from the socket peer and the `X-Forwarded-For` headers (in the
    order received), trusting only the proxies in `trusted`."""
    if not peer:
        return "unknown"
    if not within(peer, trusted):
        return peer
    hops = [h.strip() for header in forwarded for h in header.split(",") if h.strip()]
    nearest = peer
    for hop in reversed(hops):
        parsed = _address(hop)
        if parsed is None:
            # Not an address: whoever wrote it, it cannot be told apart from a client's
            # invention; the last hop we trust answers for it.
            return nearest
        if not any(parsed in net for net in trusted):
            return str(parsed)
        nearest = str(parsed)
    return nearest
