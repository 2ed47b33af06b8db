"""Load the RS256 key for `jwt` signatures: the configured PEM, or one generated once and kept in the database."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.settings import NotificationsSettings
from notifications.signing import repository
from notifications.signing.jwt import JwtSigner, generate_rsa_private_key_pem

INSTALLATION_KEY = "installation"


def configured_private_key(value: str) -> bytes:
    """PEM text, or the path of a PEM file."""
    text = value.strip()
    if "-----BEGIN" in text:
        return text.encode()
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"webhook_jwt_private_key: no PEM text and no file at {path}")
    return path.read_bytes()


async def load_jwt_signer(
    sessionmaker: async_sessionmaker[AsyncSession], settings: NotificationsSettings
) -> JwtSigner:
    if settings.webhook_jwt_private_key:
        return JwtSigner(configured_private_key(settings.webhook_jwt_private_key), settings.webhook_jwt_issuer)
    async with sessionmaker() as session:
        pem = await _stored_key(session)
        if pem is None:
            # replicas starting together race here; the first insert wins and everyone reads it
            await repository.store_key_if_absent(session, INSTALLATION_KEY, "RS256",
                                                 generate_rsa_private_key_pem().decode())
            await session.commit()
            pem = await _stored_key(session)
        assert pem is not None
    return JwtSigner(pem.encode(), settings.webhook_jwt_issuer)


async def _stored_key(session: AsyncSession) -> str | None:
    return await repository.stored_key(session, INSTALLATION_KEY)
