"""The SQL of billable metrics (live ones: not soft-deleted)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.billable_metrics.models import BillableMetric
from invora.db import lookups
from invora.web.pagination import PageParams, PaginationMeta, paginate


def _live(organization_id: uuid.UUID) -> Select:
    return lookups.live(BillableMetric, organization_id)


async def find(session: AsyncSession, organization_id: uuid.UUID, code: str) -> BillableMetric | None:
    return await lookups.live_by_code(session, BillableMetric, organization_id, code)


async def by_ids(session: AsyncSession, organization_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID,
                                                                                               BillableMetric]:
    if not ids:
        return {}
    rows = (await session.execute(
        select(BillableMetric).where(BillableMetric.organization_id == organization_id, BillableMetric.id.in_(ids))
    )).scalars().all()
    return {m.id: m for m in rows}


async def live_by_codes(session: AsyncSession, organization_id: uuid.UUID,
                        codes: Iterable[str]) -> dict[str, BillableMetric]:
    return await lookups.live_by_codes(session, BillableMetric, organization_id, codes)


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
