"""Lago's `jwt` webhook signature: a compact RS256 JWS over `{"data": <body>, "iss": <issuer>}`.

The protected header is exactly `{"alg":"RS256"}` and `data` is the body as a string, as
Lago sends it; a receiver verifies the token with the public key from
`GET /api/v1/webhooks/json_public_key` and its `iss`, then compares `data` with the raw body.
RSA signatures are deterministic, so one signature per message serves every attempt and
every endpoint: they are cached by message id.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_HEADER = b'{"alg":"RS256"}'


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class JwtSigner:
    def __init__(self, private_key_pem: bytes, issuer: str, cache_size: int = 2048) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the webhook JWT key must be an RSA private key")
        self._key = key
        self.issuer = issuer
        self.public_key_pem: bytes = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    def sign(self, body: str, cache_key: str | None = None) -> str:
        if cache_key is not None and (cached := self._cache.get(cache_key)) is not None:
            self._cache.move_to_end(cache_key)
            return cached
        claims = json.dumps({"data": body, "iss": self.issuer}, separators=(",", ":"), ensure_ascii=False)
        signing_input = _b64url(_HEADER) + b"." + _b64url(claims.encode())
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        token = (signing_input + b"." + _b64url(signature)).decode("ascii")
        if cache_key is not None:
            self._cache[cache_key] = token
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return token

    @property
    def public_key_base64(self) -> str:
        """Lago's form: MIME Base64 (60-character lines, each ending with a newline) of the PEM."""
        text = base64.b64encode(self.public_key_pem).decode("ascii")
        return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def generate_rsa_private_key_pem(bits: int = 2048) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
