"""The SQL of ingestion: the batch's subscriptions, then one statement that inserts the events and
folds the rows it inserted into the rollups.

Both run on the driver's connection (asyncpg), every column of the write passed as one array, in
the order sent: two statements per batch, whatever its size, and no BEGIN / COMMIT around them
(unless the request's session already opened a transaction, e.g. to cache a metric: then they
run in it). The lookup is a read; the write is one statement, so atomic on its own: the events,
their rollups and the marks on closed periods they reached commit or vanish together.

A rollup row is keyed by the event's filter group and its pricing group (`pricing_groups`, '' when
no charge on the metric groups). PostgreSQL, not Python, folds the deltas: `count`, `sum`, `max`,
the latest value (ties: the event sent last), Σ value × epoch seconds and Σ event amounts, exact
`numeric` throughout. For unique count, each distinct value's state (present unless its latest
event, by timestamp then id, removed it) is upserted only when the new event is later than the one
that decided it, and `RETURNING old.present` (PostgreSQL 18) gives the change to the rollup's
count of present values, so a late or reordered event cannot count a value twice.

Events are inserted in (external subscription id, transaction id) order and unique values and
rollup rows upserted in key order, all sorted by PostgreSQL: concurrent batches lock in one
order and cannot deadlock.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.web.pagination import PageParams, PaginationMeta, paginate
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage_events.ingest import EPOCH, EventSubscription, Prepared, micros
from subscriptions.usage_events.models import UsageEvent

# instants as microseconds since the epoch (see `ingest.micros`); `* interval '1 microsecond'` is exact:
# a float8 holds every microsecond count up to the year 2255, and events are at most a day ahead
SUBSCRIPTIONS = """
SELECT id, customer_id, external_id, status, plan_version_id, plan_interval, billing_time,
       (extract(epoch FROM subscription_at) * 1000000)::int8, timezone,
       (extract(epoch FROM current_period_start) * 1000000)::int8,
       CASE WHEN plan_overrides ? 'charges' THEN ARRAY(SELECT DISTINCT k FROM jsonb_array_elements_text(
           jsonb_path_query_array(plan_overrides, 'lax $.charges[*].**.pricing_group_keys[*] ? (@.type() == "string")')
           || jsonb_path_query_array(plan_overrides, 'lax $.charges[*].**.grouped_by[*] ? (@.type() == "string")')
       ) AS k) END
FROM subscriptions
WHERE organization_id = $1 AND external_id = ANY($2::text[]) AND status IN ('active', 'terminated')
"""

WRITE_EVENTS = """
WITH batch AS MATERIALIZED (
    SELECT u.id, u.subscription_id, u.customer_id, u.external_subscription_id, u.transaction_id, u.code,
           timestamptz 'epoch' + u.ts * interval '1 microsecond' AS ts, u.properties::jsonb AS properties,
           u.precise::numeric AS precise, timestamptz 'epoch' + u.period_start * interval '1 microsecond'
           AS period_start, u.group_key, u.value::numeric AS value, u.unique_value, u.present, u.pricing_group,
           u.position
    FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::int8[], $10::text[],
                $11::text[], $12::int8[], $13::text[], $14::text[], $15::text[], $16::bool[], $20::text[])
         WITH ORDINALITY AS u(id, subscription_id, customer_id, external_subscription_id, transaction_id, code, ts,
                              properties, precise, period_start, group_key, value, unique_value, present,
                              pricing_group, position)
), inserted AS (
    INSERT INTO usage_events (id, organization_id, subscription_id, customer_id, external_subscription_id,
                              transaction_id, code, timestamp, properties, precise_total_amount_cents,
                              period_start, created_at)
    SELECT id, $1, subscription_id, customer_id, external_subscription_id, transaction_id, code, ts,
           properties, precise, period_start, $2
    FROM batch
    ORDER BY external_subscription_id, transaction_id
    ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING
    RETURNING id
), marked AS (
    -- closed periods these events reached: published again by the scheduler (`usage.revisions`)
    UPDATE billing_periods p SET usage_revision_pending = true
    FROM unnest($17::uuid[], $18::int8[], $19::int8[]) AS l(subscription_id, bucket_start, bucket_end)
    WHERE p.subscription_id = l.subscription_id
      AND p.period_start >= timestamptz 'epoch' + l.bucket_start * interval '1 microsecond'
      AND p.period_end <= timestamptz 'epoch' + l.bucket_end * interval '1 microsecond'
      AND NOT p.usage_revision_pending
), uniques AS (
    SELECT DISTINCT ON (b.subscription_id, b.code, b.period_start, b.group_key, b.pricing_group, b.unique_value)
           b.subscription_id, b.code, b.period_start, b.group_key, b.pricing_group, b.unique_value, b.present,
           b.ts, b.id
    FROM batch b JOIN inserted i ON i.id = b.id
    WHERE b.unique_value IS NOT NULL
    ORDER BY b.subscription_id, b.code, b.period_start, b.group_key, b.pricing_group, b.unique_value, b.ts DESC,
             b.id DESC
), states AS (
    INSERT INTO usage_unique_values AS s (subscription_id, code, period_start, group_key, pricing_group, value,
                                          present, last_at, last_event_id)
    SELECT subscription_id, code, period_start, group_key, pricing_group, unique_value, present, ts, id
    FROM uniques
    ORDER BY subscription_id, code, period_start, group_key, pricing_group, unique_value
    ON CONFLICT (subscription_id, code, period_start, group_key, pricing_group, value) DO UPDATE SET
        present = excluded.present, last_at = excluded.last_at, last_event_id = excluded.last_event_id
    WHERE (excluded.last_at, excluded.last_event_id) > (s.last_at, s.last_event_id)
    RETURNING new.subscription_id, new.code, new.period_start, new.group_key, new.pricing_group,
              new.present::int - coalesce(old.present::int, 0) AS change
), unique_changes AS (
    SELECT subscription_id, code, period_start, group_key, pricing_group, sum(change) AS change
    FROM states GROUP BY subscription_id, code, period_start, group_key, pricing_group
), deltas AS (
    SELECT b.subscription_id, b.code, b.period_start, b.group_key, b.pricing_group, count(*) AS events_count,
           coalesce(sum(b.value), 0) AS value_sum, max(b.value) AS value_max,
           (array_agg(b.value ORDER BY b.ts DESC, b.position DESC) FILTER (WHERE b.value IS NOT NULL))[1]
               AS latest_value,
           max(b.ts) FILTER (WHERE b.value IS NOT NULL) AS latest_at,
           coalesce(sum(b.value * extract(epoch FROM b.ts)), 0) AS weighted_moment,
           coalesce(sum(b.precise), 0) AS precise_sum
    FROM batch b JOIN inserted i ON i.id = b.id
    GROUP BY b.subscription_id, b.code, b.period_start, b.group_key, b.pricing_group
), rolled AS (
    INSERT INTO usage_rollups AS r (subscription_id, code, period_start, group_key, pricing_group, organization_id,
                                    events_count, value_sum, value_max, latest_value, latest_at, weighted_moment,
                                    unique_count, precise_sum)
    SELECT d.subscription_id, d.code, d.period_start, d.group_key, d.pricing_group, $1, d.events_count, d.value_sum,
           d.value_max, d.latest_value, d.latest_at, d.weighted_moment, coalesce(u.change, 0), d.precise_sum
    FROM deltas d
    LEFT JOIN unique_changes u USING (subscription_id, code, period_start, group_key, pricing_group)
    ORDER BY d.subscription_id, d.code, d.period_start, d.group_key, d.pricing_group
    ON CONFLICT (subscription_id, code, period_start, group_key, pricing_group) DO UPDATE SET
        events_count = r.events_count + excluded.events_count,
        value_sum = r.value_sum + excluded.value_sum,
        value_max = greatest(r.value_max, excluded.value_max),
        latest_value = CASE WHEN r.latest_at IS NULL OR excluded.latest_at >= r.latest_at
                            THEN excluded.latest_value ELSE r.latest_value END,
        latest_at = greatest(r.latest_at, excluded.latest_at),
        weighted_moment = r.weighted_moment + excluded.weighted_moment,
        unique_count = r.unique_count + excluded.unique_count,
        precise_sum = r.precise_sum + excluded.precise_sum
)
SELECT id FROM inserted
"""

STORED_EVENTS = """
SELECT e.id, e.transaction_id, e.customer_id, e.code, e.timestamp, e.precise_total_amount_cents,
       e.properties::text AS properties, e.subscription_id, e.external_subscription_id, e.created_at
FROM usage_events e
JOIN unnest($2::text[], $3::text[]) AS k(external_subscription_id, transaction_id)
  ON e.external_subscription_id = k.external_subscription_id AND e.transaction_id = k.transaction_id
WHERE e.organization_id = $1
"""


def epoch_seconds(instant: datetime) -> Decimal:
    delta = instant - EPOCH
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


async def driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def subscriptions(session: AsyncSession, organization_id: uuid.UUID,
                        external_ids: set[str]) -> tuple[dict[str, EventSubscription], set[str]]:
    """The active subscriptions by external id, and the external ids only terminated ones have."""
    found = await (await driver(session)).fetch(SUBSCRIPTIONS, organization_id, list(external_ids))
    rows = [EventSubscription._make(row) for row in found]
    active = {row.external_id: row for row in rows if row.status == "active"}
    terminated = {row.external_id for row in rows if row.status == "terminated"} - set(active)
    return active, terminated


async def write(session: AsyncSession, organization_id: uuid.UUID, events: list[Prepared], now: datetime,
                late: list[tuple[uuid.UUID, int, int]] = ()) -> set[uuid.UUID]:
    """Store the events, add those inserted to the rollups and mark the closed periods in `late`
    (subscription, full period start and end in microseconds); return the ids inserted (the others'
    transaction ids were already stored: duplicates). One statement: atomic without a transaction."""
    if not events:
        return set()
    conn = await driver(session)
    late = sorted(set(late))
    rows = await conn.fetch(
        WRITE_EVENTS, organization_id, now,
        [e.id for e in events], [e.subscription.id for e in events], [e.subscription.customer_id for e in events],
        [e.event.external_subscription_id for e in events], [e.event.transaction_id for e in events],
        [e.event.code for e in events], [micros(e.timestamp) for e in events],
        [e.properties_json.decode() for e in events],
        [None if e.precise is None else str(e.precise) for e in events], [micros(e.period_start) for e in events],
        [e.group_key for e in events], [None if e.value is None else str(e.value) for e in events],
        [e.unique_value for e in events], [e.present for e in events],
        [m[0] for m in late], [m[1] for m in late], [m[2] for m in late], [e.pricing_group for e in events],
    )
    return {row[0] for row in rows}


async def stored_events(session: AsyncSession, organization_id: uuid.UUID,
                        keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The stored events for (external subscription id, transaction id) pairs (to answer duplicates)."""
    if not keys:
        return {}
    conn = await driver(session)
    rows = await conn.fetch(STORED_EVENTS, organization_id, [k[0] for k in keys], [k[1] for k in keys])
    return {(row["external_subscription_id"], row["transaction_id"]): row for row in rows}


LOCK_FOR_ADVANCE = text(
    "SELECT count(pg_advisory_xact_lock(hashtextextended('pay_in_advance:' || id, 0)))"
    " FROM (SELECT unnest(CAST(:ids AS text[])) AS id ORDER BY 1) AS ordered")

SLOT_ROLLUPS = """
SELECT r.subscription_id, r.code, r.group_key, r.pricing_group, r.events_count, r.value_sum
FROM usage_rollups r
JOIN unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS k(subscription_id, period_start, code)
  ON r.subscription_id = k.subscription_id AND r.period_start = k.period_start AND r.code = k.code
"""


async def lock_for_pay_in_advance(session: AsyncSession, subscription_ids: list[uuid.UUID]) -> None:
    """Serialize the batches that reach a subscription's charges paid in advance (to commit), in one order
    (no deadlock), one statement: each one reads the units before its events with no other batch in between.
    Through the session, so the transaction (and the write after it) is opened here."""
    await session.execute(LOCK_FOR_ADVANCE, {"ids": sorted(str(i) for i in subscription_ids)})


async def slot_rollups(session: AsyncSession, keys: list[tuple[uuid.UUID, datetime, str]]) -> list[Any]:
    """The rollup rows (count and sum) of (subscription, full period start, metric code) keys."""
    if not keys:
        return []
    conn = await driver(session)
    return await conn.fetch(SLOT_ROLLUPS, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys])


async def subscription_rows(session: AsyncSession, organization_id: uuid.UUID,
                            subscription_ids: list[uuid.UUID]) -> dict[uuid.UUID, Subscription]:
    rows = (await session.execute(select(Subscription).where(
        Subscription.organization_id == organization_id, Subscription.id.in_(subscription_ids)))).scalars().all()
    return {row.id: row for row in rows}


@dataclass(slots=True)
class EventFilters:
    external_subscription_id: str | None = None
    code: str | None = None
    timestamp_from: datetime | None = None
    timestamp_to: datetime | None = None


async def list_events(session: AsyncSession, organization_id: uuid.UUID, filters: EventFilters,
                      page: PageParams) -> tuple[list[UsageEvent], PaginationMeta]:
    statement = select(UsageEvent).where(UsageEvent.organization_id == organization_id)
    if filters.external_subscription_id is not None:
        statement = statement.where(UsageEvent.external_subscription_id == filters.external_subscription_id)
    if filters.code is not None:
        statement = statement.where(UsageEvent.code == filters.code)
    if filters.timestamp_from is not None:
        statement = statement.where(UsageEvent.timestamp >= filters.timestamp_from)
    if filters.timestamp_to is not None:
        statement = statement.where(UsageEvent.timestamp <= filters.timestamp_to)
    return await paginate(session, statement.order_by(UsageEvent.created_at.desc(), UsageEvent.id.desc()), page)


async def first_event(session: AsyncSession, organization_id: uuid.UUID, transaction_id: str) -> UsageEvent | None:
    """The first event stored with this transaction id (Lago: ids are unique per subscription only)."""
    return (await session.execute(select(UsageEvent).where(
        UsageEvent.organization_id == organization_id, UsageEvent.transaction_id == transaction_id,
    ).order_by(UsageEvent.created_at, UsageEvent.id).limit(1))).scalar_one_or_none()
