"""Which webhook targets may be called: URL syntax, scheme and address rules (SSRF).

A target is refused when any address its host resolves to is loopback, private,
link-local, CGNAT, multicast, reserved, unspecified or otherwise not globally routable,
including the IPv6 forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible,
6to4, Teredo, NAT64). CIDRs in `ssrf_allow_cidrs` lift the block; development mode lifts
it for loopback addresses only, and only then allows plain `http` (for local receivers).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from invora.web.patterns import integer_range

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
_OCTET = integer_range(0, 255)
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# What `parse_target` accepts, for the API's schema: printable ASCII only (a URL is percent-encoded),
# an http(s) scheme, a host name whose last label starts with a letter or a dotted IPv4 address,
# a port up to 65535. IPv6 literals are accepted but not described (a JSON schema pattern would
# not tell a routable one).
URL_PATTERN = (
    f"^[Hh][Tt][Tt][Pp]([Ss])?://(({_LABEL}\\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\\.?"
    f"|{_OCTET}(\\.{_OCTET}){{3}})(:{integer_range(0, 65535)})?([/?#][!-~]*)?$"
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class TargetRefused(Exception):
    """A URL or address that must not be called; `code` is the API error code / log reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class SsrfBlocked(OSError):
    """Raised from the resolver: aiohttp wraps OSErrors of resolution, and we find it in the chain."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class ParsedTarget:
    scheme: str
    host: str  # lower-case, without brackets
    port: int
    literal: IPAddress | None  # the host when it is an IP address


def parse_target(url: str) -> ParsedTarget:
    """Syntax only: an absolute http(s) URL with a host. Raises TargetRefused("url_is_invalid")."""
    if not url or len(url) > MAX_URL_LENGTH or not url.isascii() or not url.isprintable() or " " in url:
        raise TargetRefused("url_is_invalid", "not a valid URL (printable ASCII, no spaces)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("url_is_invalid", str(exc)) from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("http", "https") or not host:
        raise TargetRefused("url_is_invalid", "an absolute http(s) URL with a host is required")
    literal: IPAddress | None = None
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        # `127.1`, `2130706433`, `0x7f.1`: legacy numeric forms that resolvers map onto addresses
        if _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
            raise TargetRefused("url_is_invalid", "numeric hosts must be canonical IP addresses") from None
    if "%" in host:
        raise TargetRefused("url_is_invalid", "zoned IPv6 addresses are not allowed")
    return ParsedTarget(scheme, host, port or (443 if scheme == "https" else 80), literal)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address))
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address is not publicly routable (None: it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"embedded IPv4 {inner} is {reason}" if reason else None
        if address in _NAT64_LOCAL:
            return "private"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "CGNAT"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not globally routable"
    return None


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None and address.ipv4_mapped is not None:
            return inner.is_loopback
    return address.is_loopback


@dataclass(frozen=True)
class TargetPolicy:
    allow_http: bool = False
    dev_mode: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings) -> TargetPolicy:
        return cls(
            allow_http=settings.allow_http,
            dev_mode=settings.dev_mode,
            allow_networks=tuple(ipaddress.ip_network(c, strict=False) for c in settings.ssrf_allow_cidrs),
        )

    def _allow_listed(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and (inner := embedded_ipv4(address)) is not None:
            candidates.append(inner)
        return any(c in net for c in candidates for net in self.allow_networks if c.version == net.version)

    def refusal(self, address: IPAddress) -> str | None:
        """Why this address may not be called (None: it may)."""
        if self._allow_listed(address):
            return None
        if self.dev_mode and _is_loopback(address):
            return None
        reason = blocked_reason(address)
        return f"{address} is {reason}" if reason else None

    def plain_http_needs_loopback(self, scheme: str) -> bool:
        """`http` without `allow_http` is only for development mode's local receivers."""
        return scheme == "http" and not self.allow_http

    def check_scheme(self, target: ParsedTarget) -> None:
        if self.plain_http_needs_loopback(target.scheme) and not self.dev_mode:
            raise TargetRefused("url_must_use_https", "https is required")

    def check_addresses(self, target: ParsedTarget, addresses: Iterable[IPAddress]) -> None:
        """Raise TargetRefused("url_address_not_allowed") unless every address may be called."""
        addresses = list(addresses)
        if not addresses:
            raise TargetRefused("url_address_not_allowed", f"{target.host} resolves to no address")
        for address in addresses:
            if (why := self.refusal(address)) is not None:
                raise TargetRefused("url_address_not_allowed", why)
        if self.plain_http_needs_loopback(target.scheme):
            if not self.dev_mode:
                raise TargetRefused("url_must_use_https", "https is required")
            if not all(_is_loopback(a) for a in addresses):
                raise TargetRefused("url_must_use_https", "plain http is allowed for loopback receivers only")
