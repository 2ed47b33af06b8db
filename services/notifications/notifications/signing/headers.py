"""The signature headers of one attempt: Standard Webhooks and Lago's.

Standard Webhooks (signed with the `standardwebhooks` package):
    webhook-id          the message id, the same for every attempt and every endpoint
    webhook-timestamp   seconds since the epoch, at the attempt
    webhook-signature   `v1,<base64 HMAC-SHA256(secret bytes, "id.timestamp.body")>`, one per
                        live secret, space-separated (two while a rotated-out secret overlaps)

Lago:
    X-Lago-Signature-Algorithm   `hmac` or `jwt` (the endpoint's `signature_algo`)
    X-Lago-Signature             hmac: base64 HMAC-SHA256 of the body keyed with the endpoint's
                                 current secret text (UTF-8, `whsec_` included);
                                 jwt: RS256 JWT `{"data": <body>, "iss": <issuer>}`
    X-Lago-Unique-Key            the delivery id (per endpoint, the same for every attempt)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from standardwebhooks import Webhook

from notifications.signing.jwt import JwtSigner

USER_AGENT = "Invora-Webhooks/1.0"


@lru_cache(maxsize=4096)
def _standard(secret: str) -> Webhook:
    return Webhook(secret)


def standard_signature(secret: str, message_id: str, timestamp: datetime, body: str) -> str:
    return _standard(secret).sign(message_id, timestamp, body)


def lago_hmac_signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def signature_headers(
    *,
    message_id: str,
    delivery_id: str,
    body: str,
    body_bytes: bytes,
    secrets: Sequence[str],
    signature_algo: str,
    timestamp: datetime,
    jwt_signer: JwtSigner,
) -> dict[str, str]:
    """`secrets`: the current secret first, then any rotated-out one still inside its overlap."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": " ".join(standard_signature(s, message_id, timestamp, body) for s in secrets),
        "X-Lago-Signature-Algorithm": signature_algo,
        "X-Lago-Unique-Key": delivery_id,
    }
    if signature_algo == "jwt":
        headers["X-Lago-Signature"] = jwt_signer.sign(body)
    else:
        headers["X-Lago-Signature"] = lago_hmac_signature(secrets[0], body_bytes)
    return headers
