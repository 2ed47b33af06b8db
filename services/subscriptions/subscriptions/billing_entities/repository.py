"""SQL of the billing entity projection."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.catalog import BillingEntity
from subscriptions.billing_entities.models import KnownBillingEntity


async def upsert(session: AsyncSession, organization_id: uuid.UUID, entity: BillingEntity) -> None:
    """Insert or refresh the entity; a row only moves forward (the catalog's `updated_at`)."""
    table = KnownBillingEntity.__table__
    statement = insert(KnownBillingEntity).values(
        organization_id=organization_id, code=entity.code, lago_id=entity.lago_id, is_default=entity.is_default,
        created_at=entity.created_at, updated_at=entity.updated_at,
    )
    await session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.organization_id, table.c.code],
        set_={"lago_id": statement.excluded.lago_id, "is_default": statement.excluded.is_default,
              "updated_at": statement.excluded.updated_at},
        where=table.c.updated_at <= statement.excluded.updated_at,
    ))


async def exists(session: AsyncSession, organization_id: uuid.UUID, code: str) -> bool:
    found = await session.execute(select(KnownBillingEntity.code).where(
        KnownBillingEntity.organization_id == organization_id, KnownBillingEntity.code == code))
    return found.scalar_one_or_none() is not None
