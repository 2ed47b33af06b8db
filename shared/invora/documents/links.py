"""Public links to stored documents: unguessable, expiring, no API key.

    {PUBLIC_URL}/api/v1/documents/{kind}/{token}

`token` = base64url(resource id (16 bytes) + expiry (8 bytes, Unix seconds)) "." base64url(HMAC-SHA256(key,
kind + id + expiry)). Anyone holding the link may fetch the document until it expires (as Lago's file URLs);
without the server's key no link can be made or altered (a changed byte fails the MAC: 404), and the expiry
is inside the MAC (a later expiry cannot be written in: 404; an expired link: 403 `document_link_expired`).

Expiries are rounded up to the hour so that reading a resource twice within the hour gives the same link
(caches and clients can keep it); a link lives between `ttl` and `ttl` + 1 h.

The links of this process are configured once at start-up (`configure`, from `DocumentSettings`), and read
where a resource is rendered (`current`), as `invora.secrets` is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from invora.errors import Forbidden, NotFound

PATH = "/api/v1/documents"
ROUND_SECONDS = 3600


class DocumentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("document")


class DocumentLinkExpired(Forbidden):
    code = "document_link_expired"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class DocumentLinks:
    key: bytes
    public_url: str
    ttl_seconds: int

    def _mac(self, kind: str, body: bytes) -> bytes:
        return hmac.new(self.key, kind.encode() + b"\x00" + body, hashlib.sha256).digest()

    def token(self, kind: str, resource_id: uuid.UUID, expires_at: int) -> str:
        body = resource_id.bytes + struct.pack(">q", expires_at)
        return f"{_b64(body)}.{_b64(self._mac(kind, body))}"

    def expiry(self, now: datetime) -> int:
        wanted = int(now.timestamp()) + self.ttl_seconds
        return -(-wanted // ROUND_SECONDS) * ROUND_SECONDS

    def url(self, kind: str, resource_id: uuid.UUID, now: datetime | None = None) -> str:
        token = self.token(kind, resource_id, self.expiry(now or datetime.now(UTC)))
        return f"{self.public_url.rstrip('/')}{PATH}/{kind}/{token}"

    def verify(self, kind: str, token: str, now: datetime | None = None) -> uuid.UUID:
        """The resource id the token names; DocumentNotFound when it was not made with this key for this kind,
        DocumentLinkExpired after its expiry."""
        body_text, _, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise DocumentNotFound() from None
        if len(body) != 24 or not hmac.compare_digest(mac, self._mac(kind, body)):
            raise DocumentNotFound()
        (expires_at,) = struct.unpack(">q", body[16:])
        if (now or datetime.now(UTC)).timestamp() >= expires_at:
            raise DocumentLinkExpired("the document link has expired")
        return uuid.UUID(bytes=body[:16])


_CURRENT: DocumentLinks | None = None


def configure(links: DocumentLinks | None) -> None:
    global _CURRENT
    _CURRENT = links


def current() -> DocumentLinks | None:
    """The process's links; None before a service configured them (rendering then shows no `file_url`)."""
    return _CURRENT


def file_url(kind: str, resource_id: uuid.UUID, now: datetime | None = None) -> str | None:
    links = _CURRENT
    return links.url(kind, resource_id, now) if links is not None else None
