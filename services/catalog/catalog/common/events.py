"""Publishing catalog events through the outbox (same transaction as the change)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from invora.outbox import add_event


async def publish(
    session: AsyncSession, organization_id: uuid.UUID, event_type: str, aggregate_id: uuid.UUID, data: BaseModel,
) -> None:
    """Record `<aggregate>.<verb>` with its payload contract; the aggregate type is the prefix of the type."""
    aggregate_type = event_type.split(".", 1)[0]
    await add_event(
        session, type=event_type, organization_id=organization_id, aggregate_type=aggregate_type,
        aggregate_id=aggregate_id, data=data,
    )
