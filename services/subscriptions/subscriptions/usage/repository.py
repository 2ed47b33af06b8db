"""SQL of the usage reads that are not ingestion's (`usage_events/repository.py` holds those).

The current-usage reads run on the raw asyncpg connection (`usage_events.repository.driver`): they are the
hot path of `customer_usage`, O(charges × filter groups) rows each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, text
from sqlalchemy import delete as sql_delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from invora.ids import uuid7
from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.alert_models import UsageAlert
from subscriptions.usage.lifetime_models import LifetimeUsage

# active subscriptions with usage thresholds: on their plan version, or overridden on the subscription
WITH_THRESHOLDS = text("""
SELECT s.id, s.organization_id FROM subscriptions s
LEFT JOIN cached_plan_versions v ON v.organization_id = s.organization_id AND v.plan_version_id = s.plan_version_id
WHERE s.status = 'active' AND s.id > :after
  AND (jsonb_array_length(coalesce(v.body->'usage_thresholds', '[]'::jsonb)) > 0
       OR jsonb_array_length(coalesce(s.plan_overrides->'usage_thresholds', '[]'::jsonb)) > 0)
ORDER BY s.id LIMIT :limit
""")


async def subscriptions_with_thresholds(session: AsyncSession, after: uuid.UUID,
                                        limit: int) -> Sequence[Any]:
    return (await session.execute(WITH_THRESHOLDS, {"after": after, "limit": limit})).all()


ROLLUPS = """
SELECT code, group_key, pricing_group, events_count, value_sum, value_max, latest_value, latest_at, weighted_moment,
       unique_count, precise_sum
FROM usage_rollups WHERE subscription_id = $1 AND period_start = $2
"""
# full usage: every period's rollups since the subscription started (folded per group by `merged`)
ROLLUPS_SINCE_START = """
SELECT code, group_key, pricing_group, events_count, value_sum, value_max, latest_value, latest_at, weighted_moment,
       unique_count, precise_sum
FROM usage_rollups WHERE subscription_id = $1 AND period_start <= $2
"""
CARRIED = """
SELECT code, group_key, pricing_group, sum(value_sum) AS total FROM usage_rollups
WHERE subscription_id = $1 AND period_start < $2 AND code = ANY($3::text[]) GROUP BY code, group_key, pricing_group
"""
# recurring unique count: per group, the values an earlier period left present and this one has not touched
CARRIED_UNIQUE = """
SELECT s.code, s.group_key, s.pricing_group, count(*) AS total FROM (
    SELECT DISTINCT ON (code, group_key, pricing_group, value) code, group_key, pricing_group, value, present
    FROM usage_unique_values WHERE subscription_id = $1 AND period_start < $2 AND code = ANY($3::text[])
    ORDER BY code, group_key, pricing_group, value, period_start DESC, last_at DESC, last_event_id DESC
) s
WHERE s.present AND NOT EXISTS (
    SELECT 1 FROM usage_unique_values c WHERE c.subscription_id = $1 AND c.period_start = $2 AND c.code = s.code
      AND c.group_key = s.group_key AND c.pricing_group = s.pricing_group AND c.value = s.value)
GROUP BY s.code, s.group_key, s.pricing_group
"""
UNIQUE_STATES = """
SELECT group_key, pricing_group, value, present, last_at, last_event_id FROM usage_unique_values
WHERE subscription_id = $1 AND period_start = $2 AND code = $3
"""
EVENTS = """
SELECT properties::text AS properties, precise_total_amount_cents, timestamp, id FROM usage_events
WHERE subscription_id = $1 AND code = $2 AND timestamp >= $3 AND timestamp < $4 ORDER BY timestamp, id
"""


async def rollups(conn: Any, subscription_id: uuid.UUID, period_start: datetime, *,
                  since_start: bool = False) -> Sequence[Any]:
    """The period's rollup rows; `since_start`: every period's up to this one (full usage)."""
    return await conn.fetch(ROLLUPS_SINCE_START if since_start else ROLLUPS, subscription_id, period_start)


async def carried_totals(conn: Any, subscription_id: uuid.UUID, period_start: datetime,
                         codes: list[str]) -> Sequence[Any]:
    """Σ values of the earlier periods per code, filter group and pricing group (recurring sums)."""
    return await conn.fetch(CARRIED, subscription_id, period_start, codes)


async def carried_unique_counts(conn: Any, subscription_id: uuid.UUID, period_start: datetime,
                                codes: list[str]) -> Sequence[Any]:
    return await conn.fetch(CARRIED_UNIQUE, subscription_id, period_start, codes)


async def unique_states(conn: Any, subscription_id: uuid.UUID, period_start: datetime, code: str) -> Sequence[Any]:
    return await conn.fetch(UNIQUE_STATES, subscription_id, period_start, code)


async def period_events(conn: Any, subscription_id: uuid.UUID, code: str, start: datetime,
                        end: datetime) -> Sequence[Any]:
    """The period's stored events of one metric, in event order."""
    return await conn.fetch(EVENTS, subscription_id, code, start, end)


async def active_subscription_of_customer(session: AsyncSession, organization_id: uuid.UUID,
                                          customer_id: uuid.UUID, external_id: str) -> Subscription | None:
    return (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.external_id == external_id,
        Subscription.customer_id == customer_id, Subscription.status == "active",
    ))).scalar_one_or_none()



EVENTS_COUNTED = text(
    "SELECT coalesce(sum(events_count), 0) FROM usage_rollups WHERE subscription_id = :subscription"
    " AND period_start = :bucket"
)


async def events_counted(session: AsyncSession, subscription_id: uuid.UUID, bucket_start: datetime) -> int:
    return (await session.execute(EVENTS_COUNTED, {"subscription": subscription_id,
                                                   "bucket": bucket_start})).scalar_one()


async def lifetime_record(session: AsyncSession, organization_id: uuid.UUID, external_id: str) -> LifetimeUsage:
    """The lifetime record, locked, created on first use (concurrent first uses create one)."""
    await session.execute(insert(LifetimeUsage).values(
        id=uuid7(), organization_id=organization_id, external_subscription_id=external_id,
    ).on_conflict_do_nothing(constraint="uq_lifetime_usages_subscription"))
    return (await session.execute(select(LifetimeUsage).where(
        LifetimeUsage.organization_id == organization_id, LifetimeUsage.external_subscription_id == external_id,
    ).with_for_update())).scalar_one()


# usage alerts

async def taken_alert_codes(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                            codes: set[str]) -> set[str]:
    return set((await session.execute(select(UsageAlert.code).where(
        UsageAlert.organization_id == organization_id,
        UsageAlert.external_subscription_id == external_subscription_id, UsageAlert.code.in_(codes),
    ))).scalars())


def _alerts_statement(organization_id: uuid.UUID, external_subscription_id: str, code: str | None = None) -> Select:
    """A subscription's alerts (or the one with `code`), oldest first: for `find` and for pagination."""
    statement = select(UsageAlert).where(UsageAlert.organization_id == organization_id,
                                         UsageAlert.external_subscription_id == external_subscription_id)
    if code is not None:
        statement = statement.where(UsageAlert.code == code)
    return statement.order_by(UsageAlert.created_at, UsageAlert.id)


async def find_alerts(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                      code: str | None = None) -> list[UsageAlert]:
    return list((await session.execute(_alerts_statement(organization_id, external_subscription_id, code))).scalars())


async def alerts_page(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str,
                      params: PageParams) -> tuple[list[UsageAlert], PaginationMeta]:
    return await paginate(session, _alerts_statement(organization_id, external_subscription_id), params)


async def delete_alerts(session: AsyncSession, organization_id: uuid.UUID, external_subscription_id: str) -> int:
    result = await session.execute(sql_delete(UsageAlert).where(
        UsageAlert.organization_id == organization_id,
        UsageAlert.external_subscription_id == external_subscription_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def alert_ids(session: AsyncSession, after: uuid.UUID, limit: int,
                    not_parked: ColumnElement[bool]) -> Sequence[Any]:
    return (await session.execute(
        select(UsageAlert.id, UsageAlert.organization_id)
        .where(UsageAlert.id > after, not_parked)
        .order_by(UsageAlert.id).limit(limit))).all()


async def lock_alert_skipping(session: AsyncSession, alert_id: uuid.UUID) -> UsageAlert | None:
    return (await session.execute(select(UsageAlert).where(UsageAlert.id == alert_id)
                                  .with_for_update(skip_locked=True))).scalar_one_or_none()
