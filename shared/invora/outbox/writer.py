"""`add_event`: record a domain event in the same transaction as the change it describes."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.context import current_correlation_id, service_name_var
from invora.events.envelope import EventEnvelope

NOTIFY_CHANNEL = "invora_outbox"

# The row lock taken by the upsert serialises writers of one aggregate, so sequence
# order is commit order for that aggregate.
_NEXT_SEQUENCE = text(
    """
    INSERT INTO aggregate_sequences (aggregate_type, aggregate_id, last_sequence)
    VALUES (:aggregate_type, :aggregate_id, 1)
    ON CONFLICT (aggregate_type, aggregate_id)
    DO UPDATE SET last_sequence = aggregate_sequences.last_sequence + 1
    RETURNING last_sequence
    """
)
_INSERT = text(
    """
    INSERT INTO outbox_events (event_id, topic, message_key, event_type, envelope)
    VALUES (:event_id, :topic, :message_key, :event_type, CAST(:envelope AS jsonb))
    """
)
_NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
_NOTIFIED_KEY = "invora.outbox_notified_transaction"


async def add_event(
    session: AsyncSession,
    *,
    type: str,
    organization_id: uuid.UUID,
    aggregate_type: str,
    aggregate_id: str | uuid.UUID,
    data: dict[str, Any] | BaseModel,
    correlation_id: str | None = None,
    version: int = 1,
    source: str | None = None,
) -> EventEnvelope:
    """Write an outbox row (and wake the relay at commit). Never commits."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    sequence = (
        await session.execute(
            _NEXT_SEQUENCE, {"aggregate_type": aggregate_type, "aggregate_id": str(aggregate_id)}
        )
    ).scalar_one()
    envelope = EventEnvelope(
        type=type,
        source=source or service_name_var.get(),
        organization_id=organization_id,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        sequence=sequence,
        correlation_id=correlation_id or current_correlation_id(),
        version=version,
        data=payload,
    )
    await session.execute(
        _INSERT,
        {
            "event_id": envelope.id,
            "topic": envelope.topic,
            "message_key": envelope.aggregate_id,
            "event_type": envelope.type,
            "envelope": envelope.model_dump_json(),
        },
    )
    # one NOTIFY per transaction is enough (PostgreSQL delivers it only if the transaction commits)
    transaction = session.sync_session.get_transaction()
    if session.info.get(_NOTIFIED_KEY) is not transaction:
        await session.execute(_NOTIFY)
        session.info[_NOTIFIED_KEY] = transaction
    return envelope
