"""Verify API keys (JWT, EdDSA or RS256) against the configured public keys."""

from __future__ import annotations

import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from invora.auth.keys import ROLES
from invora.auth.principal import Principal
from invora.errors import Unauthorized

ALGORITHMS = ["EdDSA", "RS256"]


def load_public_keys(entries: list[str]) -> list:
    keys = []
    for entry in entries:
        pem = entry.encode() if "-----BEGIN" in entry else Path(entry).expanduser().read_bytes()
        keys.append(load_pem_public_key(pem))
    return keys


class TokenVerifier:
    def __init__(self, public_keys: list, issuer: str = "invora") -> None:
        self.public_keys = public_keys
        self.issuer = issuer

    @classmethod
    def from_settings(cls, entries: list[str], issuer: str) -> TokenVerifier:
        return cls(load_public_keys(entries), issuer)

    def verify(self, token: str) -> Principal:
        claims = None
        for key in self.public_keys:
            try:
                claims = jwt.decode(
                    token, key, algorithms=ALGORITHMS, issuer=self.issuer,
                    options={"require": ["iss", "sub", "iat"], "verify_aud": False},
                    leeway=30,
                )
                break
            except jwt.ExpiredSignatureError as exc:
                raise Unauthorized("expired API key", code="expired_api_key") from exc
            except jwt.InvalidTokenError:
                continue
        if claims is None:
            raise Unauthorized("invalid API key", code="invalid_api_key")
        try:
            organization_id = uuid.UUID(str(claims["org"]))
            roles = frozenset(claims["roles"])
        except (KeyError, ValueError, TypeError) as exc:
            raise Unauthorized("API key lacks organization or roles", code="invalid_api_key") from exc
        if not roles or not roles <= set(ROLES):
            raise Unauthorized("API key carries unknown roles", code="invalid_api_key")
        customer = claims.get("customer")
        if "tenant" in roles and not customer:
            raise Unauthorized("tenant keys must name a customer", code="invalid_api_key")
        return Principal(
            organization_id=organization_id, roles=roles, subject=str(claims["sub"]),
            customer=str(customer) if customer is not None else None,
        )

    def verify_header(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("missing API key", code="missing_api_key")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("expected 'Authorization: Bearer <key>'", code="invalid_api_key")
        return self.verify(token.strip())
