"""SQL of the billing entity projection."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.upsert import upsert_newer
from invora.events.contracts.catalog import BillingEntity
from subscriptions.billing_entities.models import KnownBillingEntity


async def upsert(session: AsyncSession, organization_id: uuid.UUID, entity: BillingEntity) -> None:
    """Insert or refresh the entity; a row only moves forward (the catalog's `updated_at`)."""
    await upsert_newer(session, KnownBillingEntity, {"organization_id": organization_id, "code": entity.code},
                       {"lago_id": entity.lago_id, "is_default": entity.is_default, "updated_at": entity.updated_at},
                       insert_only={"created_at": entity.created_at})


async def exists(session: AsyncSession, organization_id: uuid.UUID, code: str) -> bool:
    found = await session.execute(select(KnownBillingEntity.code).where(
        KnownBillingEntity.organization_id == organization_id, KnownBillingEntity.code == code))
    return found.scalar_one_or_none() is not None
