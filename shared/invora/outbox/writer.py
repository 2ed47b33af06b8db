"""`add_event`: record a domain event in the same transaction as the change it describes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
# a batch's rows in one statement, in the order given (their positions follow it: the relay publishes in
# position order, so one aggregate's events keep their sequence order)
_INSERT_MANY = text(
    """
    INSERT INTO outbox_events (event_id, topic, message_key, event_type, envelope)
    SELECT i, t, k, e, v
    FROM unnest(CAST(:event_ids AS uuid[]), CAST(:topics AS varchar[]), CAST(:keys AS varchar[]),
                CAST(:event_types AS varchar[]), CAST(:envelopes AS jsonb[])) WITH ORDINALITY AS r(i, t, k, e, v, n)
    ORDER BY n
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


# Many events in two statements: the sequences of every aggregate named (each aggregate's counter
# moves once, by its number of events, under the same row lock as `add_event` takes), then the rows.
_NEXT_SEQUENCES = text(
    """
    INSERT INTO aggregate_sequences (aggregate_type, aggregate_id, last_sequence)
    SELECT t, i, n FROM unnest(CAST(:types AS varchar[]), CAST(:ids AS varchar[]), CAST(:counts AS bigint[]))
         AS a(t, i, n)
    ORDER BY t, i
    ON CONFLICT (aggregate_type, aggregate_id)
    DO UPDATE SET last_sequence = aggregate_sequences.last_sequence + EXCLUDED.last_sequence
    RETURNING aggregate_type, aggregate_id, last_sequence
    """
)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event for `add_events`: the arguments `add_event` takes."""

    type: str
    organization_id: uuid.UUID
    aggregate_type: str
    aggregate_id: str | uuid.UUID
    data: dict[str, Any] | BaseModel
    version: int = 1


async def add_events(session: AsyncSession, events: Sequence[PendingEvent]) -> list[EventEnvelope]:
    """`add_event` for many events at once (a consumer's batch): same rows, same per-aggregate order
    (an aggregate's events get consecutive sequences in the order given, and positions in that order),
    two statements. Never commits."""
    if not events:
        return []
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event.aggregate_type, str(event.aggregate_id))
        counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts)
    rows = (await session.execute(_NEXT_SEQUENCES, {
        "types": [k[0] for k in keys], "ids": [k[1] for k in keys], "counts": [counts[k] for k in keys],
    })).all()
    next_sequence = {(r.aggregate_type, r.aggregate_id): r.last_sequence - counts[(r.aggregate_type, r.aggregate_id)]
                     for r in rows}
    correlation_id = current_correlation_id()
    source = service_name_var.get()
    envelopes: list[EventEnvelope] = []
    for event in events:
        key = (event.aggregate_type, str(event.aggregate_id))
        next_sequence[key] += 1
        payload = event.data.model_dump(mode="json") if isinstance(event.data, BaseModel) else event.data
        envelopes.append(EventEnvelope(
            type=event.type, source=source, organization_id=event.organization_id,
            aggregate_type=event.aggregate_type, aggregate_id=key[1], sequence=next_sequence[key],
            correlation_id=correlation_id, version=event.version, data=payload))
    await session.execute(_INSERT_MANY, {
        "event_ids": [e.id for e in envelopes], "topics": [e.topic for e in envelopes],
        "keys": [e.aggregate_id for e in envelopes], "event_types": [e.type for e in envelopes],
        "envelopes": [e.model_dump_json() for e in envelopes]})
    transaction = session.sync_session.get_transaction()
    if session.info.get(_NOTIFIED_KEY) is not transaction:
        await session.execute(_NOTIFY)
        session.info[_NOTIFIED_KEY] = transaction
    return envelopes
