"""Publishing payments events through the outbox (same transaction as the change)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.contracts.payments import EVENT_PAYLOADS
from invora.outbox import add_event


async def publish(session: AsyncSession, organization_id: uuid.UUID, event_type: str, aggregate_id: uuid.UUID,
                  data: BaseModel) -> None:
    """Record `<aggregate>.<verb>`; its payload must be the contract registered for the type."""
    contract = EVENT_PAYLOADS[event_type]
    if not isinstance(data, contract):
        raise TypeError(f"{event_type} carries {contract.__name__}, not {type(data).__name__}")
    await add_event(session, type=event_type, organization_id=organization_id,
                    aggregate_type=event_type.split(".", 1)[0], aggregate_id=aggregate_id, data=data)
