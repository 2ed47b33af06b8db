"""The webhook body for an event, in Lago's shape, serialised once and sent byte for byte.

    {"webhook_type": "invoice.finalized", "object_type": "invoice", "organization_id": "...",
     "invoice": {...}, "event_id": "...", "occurred_at": "...", "sequence": 3, "correlation_id": "..."}

The object is the event's `data`, or `data[object_type]` when that holds the object (producers
may wrap it either way): Lago's receivers read `body[object_type]["lago_id"]`. The event's other
keys beside the object (`reason` of `subscription.*`) are added to it when it has no such key.
`object_type` is the event's aggregate type except where Lago names the object otherwise.

The body is strict JSON: `NaN` and `Infinity` (which Python's json reads and writes, but
receivers' parsers refuse) raise ValueError, and the fan-out's contract rejects the event.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from invora.events.envelope import EventEnvelope

# Lago's object keys that are not the aggregate type
OBJECT_TYPES: dict[str, str] = {
    "alert.triggered": "triggered_alert",
    "events.errors": "events_errors",
    "event.error": "event_error",
    "invoice.payment_dispute_lost": "payment_dispute_lost",
    "invoice.payment_failure": "payment_provider_invoice_payment_error",
}


def object_type_for(event: EventEnvelope) -> str:
    return OBJECT_TYPES.get(event.type, event.aggregate_type)


def webhook_object(event: EventEnvelope, object_type: str) -> Any:
    data = event.data
    inner = data.get(object_type)
    if isinstance(inner, dict):
        return {**inner, **{key: value for key, value in data.items() if key != object_type and key not in inner}}
    if len(data) == 1 and object_type in data:
        return inner
    return data


def build_body(event: EventEnvelope) -> tuple[str, str]:
    """(object_type, body text). ValueError: `data` holds a float JSON cannot carry."""
    object_type = object_type_for(event)
    body = {
        "webhook_type": event.type,
        "object_type": object_type,
        "organization_id": str(event.organization_id),
        object_type: webhook_object(event, object_type),
        "event_id": str(event.id),
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "sequence": event.sequence,
        "correlation_id": event.correlation_id,
    }
    return object_type, json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
