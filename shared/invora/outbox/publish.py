"""Publishing a domain event through the outbox, in the transaction of the change it reports.

    publish = publisher(EVENT_PAYLOADS)      # once per service (its contracts, `invora.events.contracts.<service>`)
    await publish(session, organization_id, "wallet.created", wallet.id, WalletEvent(...))

The aggregate type is the type's prefix (`wallet` in `wallet.created`); with contracts, a payload that
is not the contract registered for its type is refused before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from invora.events.envelope import EventEnvelope
from invora.outbox.writer import add_event

Publish = Callable[[AsyncSession, uuid.UUID, str, uuid.UUID, BaseModel], Awaitable[EventEnvelope]]


async def publish(session: AsyncSession, organization_id: uuid.UUID, event_type: str, aggregate_id: uuid.UUID,
                  data: BaseModel, *, contracts: Mapping[str, type[BaseModel]] | None = None) -> EventEnvelope:
    """Record `<aggregate>.<verb>` with its payload (the envelope written is returned); with `contracts`, the
    payload must be the type's contract."""
    if contracts is not None:
        contract = contracts[event_type]
        if not isinstance(data, contract):
            raise TypeError(f"{event_type} carries {contract.__name__}, not {type(data).__name__}")
    return await add_event(session, type=event_type, organization_id=organization_id,
                           aggregate_type=event_type.split(".", 1)[0], aggregate_id=aggregate_id, data=data)


def publisher(contracts: Mapping[str, type[BaseModel]] | None = None) -> Publish:
    """A service's `publish`, checking payloads against its contracts."""

    async def bound(session: AsyncSession, organization_id: uuid.UUID, event_type: str, aggregate_id: uuid.UUID,
                    data: BaseModel) -> EventEnvelope:
        return await publish(session, organization_id, event_type, aggregate_id, data, contracts=contracts)

    return bound
