"""The SQL of add-ons (live ones: not soft-deleted)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.add_ons.models import AddOn
from invora.db import lookups
from invora.web.pagination import PageParams, PaginationMeta, paginate


def _live(organization_id: uuid.UUID) -> Select:
    return lookups.live(AddOn, organization_id)


async def live_by_code(session: AsyncSession, organization_id: uuid.UUID, code: str) -> AddOn | None:
    return await lookups.live_by_code(session, AddOn, organization_id, code)


async def live_by_id(
    session: AsyncSession, organization_id: uuid.UUID, add_on_id: uuid.UUID, *, include_deleted: bool = False,
) -> AddOn | None:
    statement = select(AddOn).where(AddOn.organization_id == organization_id, AddOn.id == add_on_id)
    if not include_deleted:
        statement = statement.where(AddOn.deleted_at.is_(None))
    return (await session.execute(statement)).scalar_one_or_none()


async def page(session: AsyncSession, organization_id: uuid.UUID,
               params: PageParams) -> tuple[list[AddOn], PaginationMeta]:
    return await paginate(session, _live(organization_id).order_by(AddOn.created_at.desc(), AddOn.id.desc()), params)


async def by_ids(session: AsyncSession, add_on_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, AddOn]:
    """Add-ons by id, deleted ones too (plan versions keep referring to them)."""
    if not add_on_ids:
        return {}
    return {a.id: a for a in (await session.execute(select(AddOn).where(AddOn.id.in_(add_on_ids)))).scalars()}
