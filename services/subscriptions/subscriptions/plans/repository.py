"""The SQL of the catalog's objects this service keeps: plan versions (immutable, cached on first use) and
billable metrics (cached on first use, refreshed by the catalog's events)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.subscriptions.models import CachedPlanVersion
from subscriptions.usage_events.models import CachedBillableMetric


async def cached_plan_version(session: AsyncSession, organization_id: uuid.UUID,
                              version_id: uuid.UUID) -> dict[str, Any] | None:
    return (await session.execute(select(CachedPlanVersion.body).where(
        CachedPlanVersion.organization_id == organization_id, CachedPlanVersion.plan_version_id == version_id,
    ))).scalar_one_or_none()


async def cache_plan_version(session: AsyncSession, organization_id: uuid.UUID, version_id: uuid.UUID,
                             body: dict[str, Any]) -> None:
    """Keep a version's body; a concurrent first use keeps the same (versions never change)."""
    await session.execute(insert(CachedPlanVersion).values(
        organization_id=organization_id, plan_version_id=version_id, plan_code=body["plan_code"], body=body,
    ).on_conflict_do_nothing())


async def cached_metric(session: AsyncSession, organization_id: uuid.UUID,
                        metric_id: uuid.UUID) -> dict[str, Any] | None:
    return (await session.execute(select(CachedBillableMetric.body).where(
        CachedBillableMetric.organization_id == organization_id, CachedBillableMetric.metric_id == metric_id,
    ))).scalar_one_or_none()


async def cached_metrics(session: AsyncSession, organization_id: uuid.UUID,
                         metric_ids: Collection[str | uuid.UUID]) -> Sequence[dict[str, Any]]:
    if not metric_ids:
        return []
    return (await session.execute(select(CachedBillableMetric.body).where(
        CachedBillableMetric.organization_id == organization_id, CachedBillableMetric.metric_id.in_(metric_ids),
    ))).scalars().all()


async def cache_metric(session: AsyncSession, organization_id: uuid.UUID, metric_id: uuid.UUID, code: str,
                       body: dict[str, Any]) -> None:
    await session.execute(insert(CachedBillableMetric).values(
        organization_id=organization_id, metric_id=metric_id, code=code, body=body,
    ).on_conflict_do_nothing())
