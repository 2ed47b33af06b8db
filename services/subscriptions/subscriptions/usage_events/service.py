"""Use cases of `/api/v1/events`: ingest a batch (or one event), list and read stored events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.plans.client import CatalogClient
from subscriptions.usage_events import answers, pay_in_advance, repository
from subscriptions.usage_events.buckets import period_at, schedule_for
from subscriptions.usage_events.errors import EventNotFound
from subscriptions.usage_events.ingest import Prepared, micros, prepare
from subscriptions.usage_events.metrics import MetricCache
from subscriptions.usage_events.models import UsageEvent
from subscriptions.usage_events.repository import EventFilters as EventFilters
from subscriptions.usage_events.repository import list_events as list_events
from subscriptions.usage_events.schemas import EventInput, EventObject


async def ingest(session: AsyncSession, catalog: CatalogClient, cache: MetricCache, organization_id: uuid.UUID,
                 events: Sequence[EventInput], now: datetime, *, batch: bool) -> bytes:
    """Store the events not stored yet and count them; answer every event in the order sent (JSON
    `{"events": [...]}`, or `{"event": ...}` for one event).

    A transaction id repeated for the same subscription (within the batch or already stored) is
    answered with the stored event and `duplicate: true`.
    """
    active, terminated = await repository.subscriptions(session, organization_id,
                                                   {e.external_subscription_id for e in events})
    prepared = await prepare(session, catalog, cache, organization_id, events, now, active, terminated, batch=batch)
    first: dict[tuple[str, str], Prepared] = {}
    for event in prepared:
        first.setdefault((event.event.external_subscription_id, event.event.transaction_id), event)
    unique = list(first.values())
    # rendered before the write: in the usual batch (no duplicate) the transaction commits right after it
    rendered = {event.id: answers.prepared(event, now) for event in unique}
    # closed periods reached: their usage is published again (`usage.revisions`); a duplicate's mark is harmless
    late = [(e.subscription.id, micros(e.period_start), micros(period_at(schedule_for(e.subscription),
                                                                         e.timestamp).end))
            for e in unique if e.late]
    # charges paid in advance: units read before and after the write, under a lock, published with the events
    advance_events = await pay_in_advance.candidates(session, catalog, organization_id, unique)
    advance = pay_in_advance.PayInAdvance(session, catalog, organization_id, advance_events) if advance_events \
        else None
    if advance is not None:
        await advance.before()
    inserted_ids = await repository.write(session, organization_id, unique, now, late)
    if advance is not None:
        await advance.publish(inserted_ids)
    if len(inserted_ids) == len(prepared):
        return answers.body([rendered[event.id] for event in prepared], batch=batch)
    stored = await repository.stored_events(session, organization_id,
                                       [k for k, e in first.items() if e.id not in inserted_ids])
    parts = []
    for event in prepared:
        key = (event.event.external_subscription_id, event.event.transaction_id)
        if first[key] is event and event.id in inserted_ids:
            parts.append(rendered[event.id])
        else:
            row = stored.get(key)
            parts.append(answers.stored(row) if row else answers.prepared(first[key], now, True))
    return answers.body(parts, batch=batch)


def render(event: UsageEvent) -> EventObject:
    return EventObject(
        lago_id=event.id, transaction_id=event.transaction_id, lago_customer_id=event.customer_id, code=event.code,
        timestamp=event.timestamp, precise_total_amount_cents=event.precise_total_amount_cents,
        properties=event.properties, lago_subscription_id=event.subscription_id,
        external_subscription_id=event.external_subscription_id, created_at=event.created_at,
    )




async def get_event(session: AsyncSession, organization_id: uuid.UUID, transaction_id: str) -> UsageEvent:
    """The first event stored with this transaction id (Lago: ids are unique per subscription only)."""
    event = await repository.first_event(session, organization_id, transaction_id)
    if event is None:
        raise EventNotFound()
    return event
