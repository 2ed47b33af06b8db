"""Ingestion's answers as JSON bytes: each event's answer rendered by orjson to a fragment.

A batch answer is up to a thousand events: validating response models and the standard library's
encoder cost more than storing them. The answers of the events expected to be new are rendered
before the write, so the request's transaction commits right after it (its rollup row locks are
held for as short as possible); only duplicates are rendered after it. Properties are serialized
once, for the insert, and passed through (`orjson.Fragment`); a duplicate's stored properties
likewise, as PostgreSQL's text.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # ingest serializes properties with this module
    from subscriptions.usage_events.ingest import Prepared

# UUIDs and datetimes natively; UTC as "Z", as the rest of the API renders instants
_OPTIONS = orjson.OPT_UTC_Z


def properties_json(properties: dict[str, Any]) -> bytes:
    """An event's properties as JSON: orjson, or the standard library for what orjson refuses."""
    try:
        return orjson.dumps(properties)
    except TypeError:  # e.g. an integer beyond 64 bits, should validation ever let one through
        return json.dumps(properties, separators=(",", ":"), ensure_ascii=False).encode()


def _uuid_text(value: Any) -> str:
    # asyncpg's own UUID type (a `uuid.UUID` subclass orjson does not take as one)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(content: dict[str, Any]) -> bytes:
    return orjson.dumps(content, default=_uuid_text, option=_OPTIONS)


def prepared(event: Prepared, now: datetime, duplicate: bool = False) -> bytes:
    """The answer for an event of this request (stored now, or repeated within the batch)."""
    return _dumps({
        "lago_id": event.id, "transaction_id": event.event.transaction_id,
        "lago_customer_id": str(event.subscription.customer_id), "code": event.event.code,
        "timestamp": event.timestamp,
        "precise_total_amount_cents": None if event.precise is None else str(event.precise),
        "properties": orjson.Fragment(event.properties_json), "lago_subscription_id": str(event.subscription.id),
        "external_subscription_id": event.event.external_subscription_id, "created_at": now,
        "duplicate": duplicate, "late": event.late and not duplicate,
    })


def stored(row: Any) -> bytes:
    """The answer for a duplicate: the event as stored earlier (`repository.STORED_EVENTS`' columns)."""
    precise = row["precise_total_amount_cents"]
    return _dumps({
        "lago_id": row["id"], "transaction_id": row["transaction_id"], "lago_customer_id": row["customer_id"],
        "code": row["code"], "timestamp": row["timestamp"],
        "precise_total_amount_cents": None if precise is None else str(precise),
        "properties": orjson.Fragment(row["properties"]), "lago_subscription_id": row["subscription_id"],
        "external_subscription_id": row["external_subscription_id"], "created_at": row["created_at"],
        "duplicate": True, "late": False,
    })


def body(answers: list[bytes], *, batch: bool) -> bytes:
    """`{"events": [...]}`, or `{"event": ...}` for `POST /events`."""
    return b'{"events":[' + b",".join(answers) + b"]}" if batch else b'{"event":' + answers[0] + b"}"
