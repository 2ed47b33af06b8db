"""SQL of provider webhooks: their inbox rows (the platform inbox table, one consumer name per connection)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_RECORD = text(
    """
    INSERT INTO inbox_events (consumer, event_id, event_type, topic, partition, "offset")
    VALUES (:consumer, :event_id, :event_type, :topic, 0, 0)
    ON CONFLICT (consumer, event_id) DO NOTHING
    RETURNING event_id
    """
)


async def record(session: AsyncSession, *, consumer: str, event_id: uuid.UUID, event_type: str, topic: str) -> bool:
    """True if the webhook is new (must be handled)."""
    return (await session.execute(_RECORD, {"consumer": consumer, "event_id": event_id,
                                            "event_type": event_type[:200], "topic": topic[:200]})).first() is not None
