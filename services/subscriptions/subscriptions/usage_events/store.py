"""The SQL of ingestion: one bulk insert of the batch, one bulk upsert of the rollups it changes.

Both run on the request's transaction through the driver's connection (asyncpg), with every
column passed as one array: two statements per batch, whatever its size.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.usage_events.ingest import EPOCH, Prepared

INSERT_EVENTS = """
INSERT INTO usage_events (id, organization_id, subscription_id, customer_id, external_subscription_id,
                          transaction_id, code, timestamp, properties, precise_total_amount_cents,
                          period_start, created_at)
SELECT u.id, $1, u.subscription_id, u.customer_id, u.external_subscription_id, u.transaction_id, u.code,
       u.ts, u.properties::jsonb, u.precise::numeric, u.period_start, $2
FROM unnest($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],
            $10::text[], $11::text[], $12::timestamptz[])
     AS u(id, subscription_id, customer_id, external_subscription_id, transaction_id, code, ts, properties,
          precise, period_start)
ON CONFLICT (organization_id, external_subscription_id, transaction_id) DO NOTHING
RETURNING id
"""

UPSERT_ROLLUPS = """
INSERT INTO usage_rollups AS r (subscription_id, code, period_start, group_key, organization_id, events_count,
                                value_sum, value_max, latest_value, latest_at, weighted_moment)
SELECT u.subscription_id, u.code, u.period_start, u.group_key, $1, u.events_count, u.value_sum, u.value_max,
       u.latest_value, u.latest_at, u.weighted_moment
FROM unnest($2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::bigint[], $7::numeric[], $8::numeric[],
            $9::numeric[], $10::timestamptz[], $11::numeric[])
     AS u(subscription_id, code, period_start, group_key, events_count, value_sum, value_max, latest_value,
          latest_at, weighted_moment)
ON CONFLICT (subscription_id, code, period_start, group_key) DO UPDATE SET
    events_count = r.events_count + excluded.events_count,
    value_sum = r.value_sum + excluded.value_sum,
    value_max = greatest(r.value_max, excluded.value_max),
    latest_value = CASE WHEN r.latest_at IS NULL OR excluded.latest_at >= r.latest_at
                        THEN excluded.latest_value ELSE r.latest_value END,
    latest_at = greatest(r.latest_at, excluded.latest_at),
    weighted_moment = r.weighted_moment + excluded.weighted_moment
"""

STORED_EVENTS = """
SELECT e.id, e.transaction_id, e.customer_id, e.code, e.timestamp, e.precise_total_amount_cents, e.properties::text,
       e.subscription_id, e.external_subscription_id, e.created_at
FROM usage_events e
JOIN unnest($2::text[], $3::text[]) AS k(external_subscription_id, transaction_id)
  ON e.external_subscription_id = k.external_subscription_id AND e.transaction_id = k.transaction_id
WHERE e.organization_id = $1
"""


def epoch_seconds(instant: datetime) -> Decimal:
    delta = instant - EPOCH
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


@dataclass(slots=True)
class RollupDelta:
    events_count: int = 0
    value_sum: Decimal = Decimal(0)
    value_max: Decimal | None = None
    latest_value: Decimal | None = None
    latest_at: datetime | None = None
    weighted_moment: Decimal = Decimal(0)
    keys: list[Any] = field(default_factory=list)

    def add(self, event: Prepared) -> None:
        self.events_count += 1
        value = event.value
        if value is None:
            return
        self.value_sum += value
        self.value_max = value if self.value_max is None else max(self.value_max, value)
        # the latest by timestamp; on a tie the one sent later in the batch
        if self.latest_at is None or event.timestamp >= self.latest_at:
            self.latest_at, self.latest_value = event.timestamp, value
        self.weighted_moment += value * epoch_seconds(event.timestamp)


async def driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def insert_events(session: AsyncSession, organization_id: uuid.UUID, events: list[Prepared],
                        now: datetime) -> set[uuid.UUID]:
    """Store the events; return the ids of those actually inserted (the others were duplicates)."""
    if not events:
        return set()
    # a stable order keeps concurrent batches from deadlocking on the unique index
    events = sorted(events, key=lambda e: (e.event.external_subscription_id, e.event.transaction_id))
    conn = await driver(session)
    rows = await conn.fetch(
        INSERT_EVENTS, organization_id, now,
        [e.id for e in events], [e.subscription.id for e in events], [e.subscription.customer_id for e in events],
        [e.event.external_subscription_id for e in events], [e.event.transaction_id for e in events],
        [e.event.code for e in events], [e.timestamp for e in events],
        [json.dumps(e.properties, separators=(",", ":")) for e in events],
        [None if e.precise is None else str(e.precise) for e in events], [e.period_start for e in events],
    )
    return {row[0] for row in rows}


async def update_rollups(session: AsyncSession, organization_id: uuid.UUID, inserted: list[Prepared]) -> None:
    deltas: dict[tuple[uuid.UUID, str, datetime, str], RollupDelta] = {}
    for event in inserted:
        key = (event.subscription.id, event.event.code, event.period_start, event.group_key)
        deltas.setdefault(key, RollupDelta()).add(event)
    if not deltas:
        return
    keys = sorted(deltas)  # one lock order for every writer
    conn = await driver(session)
    await conn.execute(
        UPSERT_ROLLUPS, organization_id,
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [k[3] for k in keys],
        [deltas[k].events_count for k in keys], [deltas[k].value_sum for k in keys],
        [deltas[k].value_max for k in keys], [deltas[k].latest_value for k in keys],
        [deltas[k].latest_at for k in keys], [deltas[k].weighted_moment for k in keys],
    )


async def stored_events(session: AsyncSession, organization_id: uuid.UUID,
                        keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored events for (external subscription id, transaction id) pairs (to answer duplicates)."""
    if not keys:
        return {}
    conn = await driver(session)
    rows = await conn.fetch(STORED_EVENTS, organization_id, [k[0] for k in keys], [k[1] for k in keys])
    return {(row["external_subscription_id"], row["transaction_id"]): dict(row) for row in rows}
