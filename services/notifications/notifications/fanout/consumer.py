"""The fan-out: every domain event becomes one delivery per matching endpoint.

It runs in the consumer's transaction, with the events' inbox rows, so a redelivered event
finds its inbox row and creates nothing twice. The delivery rows are the queue: workers are
woken by a NOTIFY sent at commit.

Events are fanned out a batch at a time (the consumer declares a batch handler, see
`consumer_spec.py`): a handful of statements per batch, whatever its size, because this
service consumes every topic of the suite. An event breaking the fan-out's contract
(`contract.py`) raises pydantic's ValidationError before anything is written; the platform
consumer then handles that batch one event at a time and rejects only that event.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.internal import INTERNAL_EVENT_TYPES
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.observability.metrics import domain_counter
from notifications.deliveries.models import PENDING
from notifications.endpoints.event_types import matches
from notifications.endpoints.send_test import TEST_EVENT, target_of_test_event
from notifications.fanout import repository
from notifications.fanout.contract import WebhookMessageContent
from notifications.runtime import NotificationsRuntime, wake_workers_at_commit

DELIVERIES_CREATED = domain_counter(
    "webhook_deliveries_created_total", "Webhook deliveries created by the fan-out", ("event_type",)
)


# (id, organization, event_types, enabled)
EndpointRow = tuple[uuid.UUID, uuid.UUID, list[str] | None, bool]


async def _endpoints(session: AsyncSession, events: Sequence[EventEnvelope]) -> list[EndpointRow]:
    """Every endpoint these events could reach, once each."""
    organizations = {e.organization_id for e in events if e.type != TEST_EVENT}
    tested = {t for e in events if e.type == TEST_EVENT and (t := target_of_test_event(e)) is not None}
    rows: list = []
    if organizations:
        rows += await repository.enabled_endpoints(session, organizations)
    if tested:
        rows += await repository.endpoints_by_id(session, tested)
    return list({row[0]: tuple(row) for row in rows}.values())


def _targets(event: EventEnvelope, endpoints) -> list[uuid.UUID]:
    if event.type == TEST_EVENT:
        # explicit: reaches its endpoint whatever its filter, even while disabled
        target = target_of_test_event(event)
        return [eid for eid, org, _types, _enabled in endpoints if eid == target and org == event.organization_id]
    return [
        eid for eid, org, types, enabled in endpoints
        if enabled and org == event.organization_id and matches(types, event.type)
    ]


async def fan_out(session: AsyncSession, events: Sequence[EventEnvelope], runtime: NotificationsRuntime) -> int:
    """Create the messages and deliveries for `events` (already recorded in the inbox). Never commits.

    ValidationError: an event some endpoint wants breaks the contract (one no endpoint wants is
    never stored, so it is not checked).
    """
    # internal plumbing (the shared list) never reaches tenants; the setting excludes more
    excluded = INTERNAL_EVENT_TYPES.union(runtime.settings.excluded_event_types)
    events = [e for e in events if e.type not in excluded]
    if not events:
        return 0
    endpoints = await _endpoints(session, events)
    if not endpoints:
        return 0
    now = runtime.clock.now()
    messages: list[dict] = []
    deliveries: list[dict] = []
    for event in events:
        targets = _targets(event, endpoints)
        if not targets:
            continue  # nothing recorded for an event no endpoint wants (as Lago)
        content = WebhookMessageContent.of(event)
        message_id = uuid7()
        messages.append({
            "id": message_id, "organization_id": event.organization_id, "event_id": event.id,
            "event_type": content.event_type, "object_type": content.object_type,
            "aggregate_id": content.aggregate_id, "sequence": content.sequence,
            "correlation_id": content.correlation_id, "payload": content.body,
            "occurred_at": event.occurred_at, "created_at": now,
        })
        for endpoint_id in targets:
            deliveries.append({
                "id": uuid7(), "organization_id": event.organization_id, "message_id": message_id,
                "endpoint_id": endpoint_id, "event_type": event.type, "status": PENDING, "attempt_count": 0,
                "next_attempt_at": now, "created_at": now, "updated_at": now,
            })
    if not deliveries:
        return 0
    # an event already fanned out (e.g. replayed under another consumer name) keeps its first message
    inserted = await repository.insert_new_messages(session, messages)
    deliveries = [d for d in deliveries if d["message_id"] in inserted]
    if not deliveries:
        return 0
    await repository.insert_deliveries(session, deliveries)
    await wake_workers_at_commit(session, now)
    for delivery in deliveries:
        DELIVERIES_CREATED.labels("notifications", delivery["event_type"]).inc()
    return len(deliveries)
