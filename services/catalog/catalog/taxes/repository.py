"""The SQL of taxes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.taxes.models import Tax
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str) -> Tax | None:
    if not storable_key(code):
        return None
    return (await session.execute(
        select(Tax).where(Tax.organization_id == organization_id, Tax.code == code)
    )).scalar_one_or_none()


async def by_codes(session: AsyncSession, organization_id: uuid.UUID, codes: Iterable[str]) -> dict[str, Tax]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = (await session.execute(
        select(Tax).where(Tax.organization_id == organization_id, Tax.code.in_(wanted))
    )).scalars().all()
    return {tax.code: tax for tax in rows}


async def page(session: AsyncSession, organization_id: uuid.UUID,
               params: PageParams) -> tuple[list[Tax], PaginationMeta]:
    statement = select(Tax).where(Tax.organization_id == organization_id).order_by(Tax.created_at.desc(),
                                                                                   Tax.id.desc())
    return await paginate(session, statement, params)


async def applied_to_organization(session: AsyncSession, organization_id: uuid.UUID) -> Sequence[Tax]:
    """The organization's default taxes, by code."""
    return (await session.execute(
        select(Tax).where(Tax.organization_id == organization_id, Tax.applied_to_organization.is_(True))
        .order_by(Tax.code)
    )).scalars().all()
