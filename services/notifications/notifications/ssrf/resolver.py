"""Name resolution that checks every address, and hands aiohttp only the addresses it checked.

aiohttp connects to the addresses its resolver returns (with the URL's host kept for TLS
SNI and certificate checks), so checking here and connecting there leaves no second
lookup for a rebinding DNS server to answer differently.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult

from notifications.ssrf.policy import IPAddress, ParsedTarget, SsrfBlocked, TargetPolicy, TargetRefused

# (host, port) -> addresses; swappable in tests to play a DNS server
Lookup = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_lookup(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        seen.setdefault(text, ipaddress.ip_address(text))
    return list(seen.values())


async def check_target(target: ParsedTarget, policy: TargetPolicy, lookup: Lookup) -> list[IPAddress]:
    """Resolve (unless the host is an address) and apply the policy; raises TargetRefused."""
    policy.check_scheme(target)
    if target.literal is not None:
        addresses: list[IPAddress] = [target.literal]
    else:
        try:
            addresses = await lookup(target.host, target.port)
        except OSError as exc:
            raise TargetRefused("url_unresolvable", f"{target.host} does not resolve: {exc}") from exc
    policy.check_addresses(target, addresses)
    return addresses


class GuardedResolver(AbstractResolver):
    """aiohttp resolver applying `policy` to targets of one `scheme` (plain http has stricter rules)."""

    def __init__(self, policy: TargetPolicy, lookup: Callable[[], Lookup], *, scheme: str) -> None:
        self.policy = policy
        self._lookup = lookup
        self.scheme = scheme

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
                      ) -> list[ResolveResult]:
        target = ParsedTarget(self.scheme, host.rstrip(".").lower(), port, None)
        addresses = await self._lookup()(target.host, port)  # an OSError becomes aiohttp's DNS error
        try:
            self.policy.check_addresses(target, addresses)
        except TargetRefused as exc:
            raise SsrfBlocked(exc.detail) from None
        return [
            ResolveResult(
                hostname=host, host=str(address), port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0, flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
            if family in (socket.AF_UNSPEC, 0) or (family == socket.AF_INET6) == (address.version == 6)
        ]

    async def close(self) -> None:
        return None
