"""From consumed events to activity logs: one per tenant-facing event, in the fan-out's transaction.

What an event becomes (Lago's `ActivityLogObject`):
- `activity_type` the event type (`billable_metric.created`); `resource_type` the aggregate type in Lago's
  class name (`BillableMetric`); `resource_id` the aggregate id;
- `activity_object` the object the event carries (as the webhook body's object: the state *after*);
- `activity_object_changes`: the suite's events carry no "before", so notifications diffs the object
  against the previous activity of the same resource it still holds (`{"field": [before, after]}` for
  each top-level field that differs); null for the first activity of a resource (or when the earlier one
  is past retention);
- `external_customer_id` / `external_subscription_id` read from the object when it has them (a customer's
  or subscription's own `external_id` for those resources);
- `activity_source` `api`, `user_email` null (API keys have no user; the key's subject is in the API log).

Internal events (`invora.events.contracts.internal`), `webhook.test` and the suite's own webhook log
events are not activities. A redelivered event is stored once (unique `event_id`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.internal import INTERNAL_EVENT_TYPES
from invora.events.envelope import EventEnvelope
from invora.ids import uuid7
from invora.logging import get_logger
from notifications.activity_logs import repository
from notifications.fanout.payload import object_type_for, webhook_object

log = get_logger()

NOT_ACTIVITIES = frozenset({"webhook.test"})


def resource_type_of(aggregate_type: str) -> str:
    """`billable_metric` → `BillableMetric` (Lago names resources by their Rails class)."""
    return "".join(part.capitalize() for part in aggregate_type.split("_"))


def _external(obj: Any, field: str, aggregate_type: str) -> str | None:
    if not isinstance(obj, dict):
        return None
    value = obj.get(field)
    if value is None and field == f"external_{aggregate_type}_id":  # a customer's or subscription's own id
        value = obj.get("external_id")
    if value is None and field == "external_customer_id" and isinstance(obj.get("customer"), dict):
        value = obj["customer"].get("external_id")
    if value is None and field == "external_subscription_id" and isinstance(obj.get("subscription"), dict):
        value = obj["subscription"].get("external_id")
    return value[:255] if isinstance(value, str) and _storable(value) else None


def _changes(before: Any, after: Any) -> dict | None:
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    return {key: [before.get(key), after.get(key)]
            for key in sorted(before.keys() | after.keys()) if before.get(key) != after.get(key)}


def _storable(obj: Any) -> bool:
    """PostgreSQL refuses NUL characters, lone surrogates and (JSONB) non-finite numbers."""
    try:
        text = json.dumps(obj, allow_nan=False, ensure_ascii=False)
        text.encode()  # UnicodeEncodeError (a ValueError) for a lone surrogate
    except ValueError:
        return False
    return "\x00" not in text and "\\u0000" not in text


async def record_activities(session: AsyncSession, events: Sequence[EventEnvelope], now) -> int:
    """Insert the batch's activity logs (never commits); answers how many were new."""
    events = [e for e in events if e.type not in INTERNAL_EVENT_TYPES and e.type not in NOT_ACTIVITIES
              and not e.type.startswith("webhook.")]
    # an event whose type or aggregate PostgreSQL cannot store is left to the fan-out's contract (rejected)
    events = [e for e in events if _storable([e.type, e.aggregate_type, e.aggregate_id])]
    if not events:
        return 0
    keys = {(e.organization_id, resource_type_of(e.aggregate_type), e.aggregate_id[:200]) for e in events}
    latest = await repository.latest_objects(session, keys)
    rows: list[dict] = []
    for event in sorted(events, key=lambda e: (e.occurred_at, e.sequence)):
        obj = webhook_object(event, object_type_for(event))
        if not _storable(obj):
            log.warning("activity_object_not_storable", event_id=str(event.id), event_type=event.type)
            obj = None
        key = (event.organization_id, resource_type_of(event.aggregate_type), event.aggregate_id[:200])
        rows.append({
            "id": uuid7(), "organization_id": event.organization_id, "event_id": event.id,
            "activity_type": event.type[:200], "activity_source": "api", "activity_object": obj,
            "activity_object_changes": _changes(latest.get(key), obj), "user_email": None,
            "resource_id": key[2], "resource_type": key[1][:100],
            "external_customer_id": _external(obj, "external_customer_id", event.aggregate_type),
            "external_subscription_id": _external(obj, "external_subscription_id", event.aggregate_type),
            "logged_at": event.occurred_at, "created_at": now,
        })
        if obj is not None:
            latest[key] = obj
    return await repository.insert_activities(session, rows)
