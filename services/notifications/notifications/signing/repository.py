"""The SQL of the installation's webhook signing key."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.signing.models import WebhookSigningKey


async def stored_key(session: AsyncSession, name: str) -> str | None:
    return (await session.execute(
        select(WebhookSigningKey.private_key_pem).where(WebhookSigningKey.name == name))).scalar_one_or_none()


async def store_key_if_absent(session: AsyncSession, name: str, algorithm: str, private_key_pem: str) -> None:
    """Replicas starting together race here: the first insert wins."""
    await session.execute(insert(WebhookSigningKey).values(
        name=name, algorithm=algorithm, private_key_pem=private_key_pem,
    ).on_conflict_do_nothing(index_elements=["name"]))
