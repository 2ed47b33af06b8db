"""API keys: Ed25519-signed JWTs (EdDSA). RS256 keys are verified too.

Claims: `iss`, `sub` (who the key is for), `org` (organization id), `roles`,
for tenant keys `customer_id` (the `lago_id` of the customer the key is limited to: the internal
id, never the external one, which a re-created customer reuses), `iat`, `exp` (optional) and `jti`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROLES = ("admin", "billing_admin", "super_admin", "service", "tenant")


def generate_private_key_pem() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """Create `private.pem`/`public.pem` in `directory` once; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "private.pem", directory / "public.pem"
    if not private.exists():
        pem = generate_private_key_pem()
        private.write_bytes(pem)
        private.chmod(0o600)
        public.write_bytes(public_key_pem(pem))
    elif not public.exists():
        public.write_bytes(public_key_pem(private.read_bytes()))
    return private, public


def sign_token(
    private_pem: bytes | str,
    *,
    organization_id: uuid.UUID | str,
    roles: list[str] | tuple[str, ...],
    customer_id: uuid.UUID | str | None = None,
    subject: str | None = None,
    expires_in: timedelta | None = None,
    issuer: str = "invora",
    now: datetime | None = None,
) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    if isinstance(private_pem, str):
        private_pem = private_pem.encode()
    key = serialization.load_pem_private_key(private_pem, password=None)
    algorithm = "EdDSA" if isinstance(key, ed25519.Ed25519PrivateKey) else "RS256"
    issued = now or datetime.now(UTC)
    claims: dict = {
        "iss": issuer,
        "sub": subject or f"key:{uuid.uuid4().hex[:12]}",
        "org": str(organization_id),
        "roles": list(roles),
        "iat": int(issued.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    if customer_id is not None:
        claims["customer_id"] = str(uuid.UUID(str(customer_id)))
    if expires_in is not None:
        claims["exp"] = int((issued + expires_in).timestamp())
    return jwt.encode(claims, key, algorithm=algorithm)
