"""SQL of billing entities."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billing_entities.models import BillingEntity
from invora.web.inputs import storable_key


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str, *,
               for_update: bool = False) -> BillingEntity | None:
    if not storable_key(code):
        return None
    statement = select(BillingEntity).where(BillingEntity.organization_id == organization_id,
                                            BillingEntity.code == code)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def has_any(session: AsyncSession, organization_id: uuid.UUID) -> bool:
    return (await session.execute(select(func.count()).select_from(BillingEntity).where(
        BillingEntity.organization_id == organization_id))).scalar_one() > 0


def listing(organization_id: uuid.UUID) -> Select:
    """Oldest first, as Lago lists them (the default entity first)."""
    return select(BillingEntity).where(BillingEntity.organization_id == organization_id).order_by(
        BillingEntity.created_at, BillingEntity.id)


async def lock_organization(session: AsyncSession, organization_id: uuid.UUID) -> None:
    """Serialise entity creation within an organization (which one is the default: the oldest)."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(str(organization_id), 17))))
