"""Verify API keys (JWT, EdDSA or RS256) against the configured public keys."""

from __future__ import annotations

import math
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from invora.auth.errors import ExpiredApiKey, InvalidApiKey, MissingApiKey
from invora.auth.keys import ROLES
from invora.auth.principal import Principal

ALGORITHMS = ["EdDSA", "RS256"]
VERIFIED_CACHE_SIZE = 10_000
DEFAULT_LEEWAY_SECONDS = 30.0
# RFC 7519 §2: a NumericDate is a JSON number. PyJWT reads `int(claim)`, so "1700000000" would pass
# its checks; such a key is refused here before any of its claims is trusted
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")


def _numeric_date(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def algorithm_for(key) -> str:
    """The one JWT algorithm a public key verifies (a key never verifies another algorithm's tokens)."""
    if isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    raise ValueError(f"unsupported API key public key type {type(key).__name__}: use Ed25519 or RSA")


def _pem_bytes(entry: str) -> bytes:
    if "-----BEGIN" in entry:
        return entry.replace("\\n", "\n").encode()  # inline PEM; one-line variables carry backslash-n
    return Path(entry).expanduser().read_bytes()


def load_public_keys(entries: list[str]) -> list:
    keys = []
    for entry in entries:
        key = load_pem_public_key(_pem_bytes(entry))
        algorithm_for(key)  # refuse unusable keys at start-up, not on the first request
        keys.append(key)
    return keys


class TokenVerifier:
    def __init__(self, public_keys: list, issuer: str = "invora", cache_seconds: float = 60.0,
                 leeway_seconds: float = DEFAULT_LEEWAY_SECONDS) -> None:
        self.public_keys = public_keys
        self.issuer = issuer
        # clock skew forgiven on `exp`, `nbf` and `iat` (the `auth_leeway_seconds` setting)
        self.leeway_seconds = leeway_seconds
        # A key verified moments ago is remembered (never past its `exp`): hot paths such as
        # entitlement checks and event ingestion would otherwise spend as long on the signature
        # as on the rest of the request. Keyed by the exact token, so a forged one never hits.
        self.cache_seconds = cache_seconds
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        # PyJWT raises TypeError (not InvalidTokenError) when given, say, an RS256 token and an
        # Ed25519 key, so each token is only tried against the keys of its own algorithm
        self._keys_by_algorithm: dict[str, list] = {}
        for key in public_keys:
            self._keys_by_algorithm.setdefault(algorithm_for(key), []).append(key)

    @classmethod
    def from_settings(cls, entries: list[str], issuer: str, cache_seconds: float = 60.0,
                      leeway_seconds: float = DEFAULT_LEEWAY_SECONDS) -> TokenVerifier:
        return cls(load_public_keys(entries), issuer, cache_seconds, leeway_seconds)

    def verify(self, token: str) -> Principal:
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal, expires_at = self._verify(token)
        if self.cache_seconds > 0:
            self._verified[token] = (principal, min(expires_at, now + self.cache_seconds))
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        claims = None
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise InvalidApiKey("invalid API key") from exc
        candidates = self._keys_by_algorithm.get(algorithm, []) if algorithm in ALGORITHMS else []
        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise InvalidApiKey("invalid API key") from exc
        if not all(_numeric_date(unverified[claim]) for claim in NUMERIC_DATE_CLAIMS if claim in unverified):
            raise InvalidApiKey("API key dates must be NumericDate numbers (RFC 7519)")
        for key in candidates:
            try:
                claims = jwt.decode(
                    token, key, algorithms=[algorithm], issuer=self.issuer,
                    options={"require": ["iss", "sub", "iat"], "verify_aud": False},
                    leeway=self.leeway_seconds,
                )
                break
            except jwt.ExpiredSignatureError as exc:
                raise ExpiredApiKey("expired API key") from exc
            except jwt.InvalidTokenError:
                continue
        if claims is None:
            raise InvalidApiKey("invalid API key")
        try:
            organization_id = uuid.UUID(str(claims["org"]))
            roles = frozenset(claims["roles"])
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidApiKey("API key lacks organization or roles") from exc
        if not roles or not roles <= set(ROLES):
            raise InvalidApiKey("API key carries unknown roles")
        customer_id = None
        if "tenant" in roles:
            try:
                customer_id = uuid.UUID(str(claims["customer_id"]))
            except (KeyError, ValueError) as exc:
                raise InvalidApiKey("tenant keys must name their customer's lago_id (`customer_id`)") from exc
        principal = Principal(
            organization_id=organization_id, roles=roles, subject=str(claims["sub"]), customer_id=customer_id,
        )
        # a key without `exp` is remembered `cache_seconds` at most, like any other
        return principal, float(claims["exp"]) if "exp" in claims else float("inf")

    def verify_header(self, authorization: str | None) -> Principal:
        if not authorization:
            raise MissingApiKey("missing API key")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidApiKey("expected 'Authorization: Bearer <key>'")
        return self.verify(token.strip())
