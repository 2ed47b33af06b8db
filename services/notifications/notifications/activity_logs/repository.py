"""SQL of the activity logs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.bulk import insert_new
from notifications.activity_logs.models import ActivityLog

_ROWS_PER_STATEMENT = 1000  # 14 parameters each, under PostgreSQL's 32,767


@dataclass(frozen=True)
class ActivityFilters:
    logged_from: datetime | None = None
    logged_before: datetime | None = None
    activity_types: tuple[str, ...] = ()
    activity_sources: tuple[str, ...] = ()
    user_emails: tuple[str, ...] = ()
    external_customer_id: str | None = None
    external_subscription_id: str | None = None
    resource_ids: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()


async def latest_objects(session: AsyncSession, keys: Iterable[tuple[uuid.UUID, str, str]]) -> dict[tuple, Any]:
    """The newest stored `activity_object` of each (organization, resource type, resource id)."""
    keys = list(keys)
    if not keys:
        return {}
    statement = (
        select(ActivityLog.organization_id, ActivityLog.resource_type, ActivityLog.resource_id,
               ActivityLog.activity_object)
        .where(tuple_(ActivityLog.organization_id, ActivityLog.resource_type, ActivityLog.resource_id).in_(keys),
               ActivityLog.activity_object.is_not(None))
        .order_by(ActivityLog.organization_id, ActivityLog.resource_type, ActivityLog.resource_id,
                  ActivityLog.logged_at.desc(), ActivityLog.id.desc())
        .ext(distinct_on(ActivityLog.organization_id, ActivityLog.resource_type, ActivityLog.resource_id))
    )
    return {(org, rtype, rid): obj for org, rtype, rid, obj in (await session.execute(statement)).all()}


async def insert_activities(session: AsyncSession, rows: list[dict]) -> int:
    """Insert, skipping events already recorded (redelivery). Answers how many rows are new."""
    return len(await insert_new(session, ActivityLog, rows, per_statement=_ROWS_PER_STATEMENT, conflict=["event_id"]))


def list_statement(organization_id: uuid.UUID, filters: ActivityFilters) -> Select:
    statement = select(ActivityLog).where(ActivityLog.organization_id == organization_id)
    if filters.logged_from is not None:
        statement = statement.where(ActivityLog.logged_at >= filters.logged_from)
    if filters.logged_before is not None:
        statement = statement.where(ActivityLog.logged_at < filters.logged_before)
    if filters.activity_types:
        statement = statement.where(ActivityLog.activity_type.in_(filters.activity_types))
    if filters.activity_sources:
        statement = statement.where(ActivityLog.activity_source.in_(filters.activity_sources))
    if filters.user_emails:
        statement = statement.where(ActivityLog.user_email.in_(filters.user_emails))
    if filters.external_customer_id is not None:
        statement = statement.where(ActivityLog.external_customer_id == filters.external_customer_id)
    if filters.external_subscription_id is not None:
        statement = statement.where(ActivityLog.external_subscription_id == filters.external_subscription_id)
    if filters.resource_ids:
        statement = statement.where(ActivityLog.resource_id.in_(filters.resource_ids))
    if filters.resource_types:
        statement = statement.where(ActivityLog.resource_type.in_(filters.resource_types))
    return statement.order_by(ActivityLog.logged_at.desc(), ActivityLog.id.desc())


async def get(session: AsyncSession, organization_id: uuid.UUID, activity_id: uuid.UUID) -> ActivityLog | None:
    return (await session.execute(select(ActivityLog).where(
        ActivityLog.organization_id == organization_id, ActivityLog.id == activity_id))).scalar_one_or_none()


async def delete_older_than(session: AsyncSession, cutoff: datetime, limit: int) -> int:
    """Delete at most `limit` rows logged before `cutoff`; answers how many."""
    doomed = select(ActivityLog.id).where(ActivityLog.logged_at < cutoff).limit(limit).scalar_subquery()
    result = await session.execute(delete(ActivityLog).where(ActivityLog.id.in_(doomed)))
    return result.rowcount or 0
