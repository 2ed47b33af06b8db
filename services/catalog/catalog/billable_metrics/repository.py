"""The SQL of billable metrics (live ones: not soft-deleted)."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billable_metrics.models import BillableMetric
from invora.web.inputs import storable_key
from invora.web.pagination import PageParams, PaginationMeta, paginate


def _live(organization_id: uuid.UUID):
    return select(BillableMetric).where(
        BillableMetric.organization_id == organization_id, BillableMetric.deleted_at.is_(None)
    )


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str) -> BillableMetric | None:
    if not storable_key(code):
        return None
    return (await session.execute(_live(organization_id).where(BillableMetric.code == code))).scalar_one_or_none()


async def by_ids(session: AsyncSession, organization_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID,
                                                                                               BillableMetric]:
    if not ids:
        return {}
    rows = (await session.execute(
        select(BillableMetric).where(BillableMetric.organization_id == organization_id, BillableMetric.id.in_(ids))
    )).scalars().all()
    return {m.id: m for m in rows}


async def live_by_codes(session: AsyncSession, organization_id: uuid.UUID, codes: set[str]) -> dict[str,
                                                                                                   BillableMetric]:
    codes = {c for c in codes if storable_key(c)}
    if not codes:
        return {}
    rows = (await session.execute(_live(organization_id).where(BillableMetric.code.in_(codes)))).scalars().all()
    return {m.code: m for m in rows}


async def page(session: AsyncSession, organization_id: uuid.UUID, params: PageParams, *,
               aggregation_types: list[str] | None = None,
               metric_ids: Collection[uuid.UUID] | None = None) -> tuple[list[BillableMetric], PaginationMeta]:
    statement = _live(organization_id)
    if aggregation_types:
        statement = statement.where(BillableMetric.aggregation_type.in_(aggregation_types))
    if metric_ids is not None:
        statement = statement.where(BillableMetric.id.in_(metric_ids))
    statement = statement.order_by(BillableMetric.created_at.desc(), BillableMetric.id.desc())
    return await paginate(session, statement, params)
