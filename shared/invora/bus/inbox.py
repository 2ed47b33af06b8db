"""The inbox statements: record that a consumer handled an event, one at a time or a batch at a time.

A row is inserted only if the (consumer, event id) pair is new; `RETURNING` tells the caller
which events are new and must be handled. The same event twice in one batch is inserted
once (`ON CONFLICT DO NOTHING` applies within the statement too).
"""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.envelope import EventEnvelope

# `inbox_events.event_type` is a varchar(200): a longer type could never be recorded, so the
# consumer treats it as malformed instead of retrying it forever
EVENT_TYPE_MAX_LENGTH = 200

_RECORD = text(
    """
    INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, "offset")
    VALUES (:consumer, :event_id, :event_type, :topic, :partition, :offset)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
    """
)
_RECORD_MANY = text(
    """
    INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, "offset")
    SELECT :consumer, e.event_id, e.event_type, e.topic, e.partition, e.event_offset
    FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_types AS varchar[]), CAST(:topics AS varchar[]),
                CAST(:partitions AS integer[]), CAST(:offsets AS bigint[]))
         AS e(event_id, event_type, topic, partition, event_offset)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
    """
)


def storable_event_type(event_type: str) -> bool:
    """Whether the inbox (and PostgreSQL text) can hold this type: bounded, no NUL, valid UTF-8."""
    if len(event_type) > EVENT_TYPE_MAX_LENGTH or "\x00" in event_type:
        return False
    try:
        event_type.encode()
    except UnicodeEncodeError:  # a lone surrogate, from a JSON `\ud800` escape
        return False
    return True


async def record(session: AsyncSession, consumer: str, envelope: EventEnvelope, message: ConsumerRecord) -> bool:
    """Insert the inbox row; True if it is new (the event must be handled)."""
    inserted = (
        await session.execute(_RECORD, {
            "consumer": consumer, "event_id": envelope.id, "event_type": envelope.type,
            "topic": message.topic, "partition": message.partition, "offset": message.offset,
        })
    ).scalar_one_or_none()
    return inserted is not None


async def record_many(
    session: AsyncSession, consumer: str, items: Sequence[tuple[EventEnvelope, ConsumerRecord]]
) -> list[EventEnvelope]:
    """Insert the inbox rows in one statement; the events that were new, in their order, each once."""
    inserted = set(
        (
            await session.execute(_RECORD_MANY, {
                "consumer": consumer,
                "event_ids": [e.id for e, _ in items], "event_types": [e.type for e, _ in items],
                "topics": [m.topic for _, m in items], "partitions": [m.partition for _, m in items],
                "offsets": [m.offset for _, m in items],
            })
        ).scalars()
    )
    fresh: list[EventEnvelope] = []
    for envelope, _message in items:
        if envelope.id in inserted:
            inserted.discard(envelope.id)  # the same event twice in one batch counts once
            fresh.append(envelope)
    return fresh
