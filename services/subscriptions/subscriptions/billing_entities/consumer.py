"""`billing_entity.created|updated` (catalog, internal) → the local projection of entity codes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.catalog import BillingEntityEvent
from invora.events.envelope import EventEnvelope
from subscriptions.billing_entities import repository


async def on_billing_entity(session: AsyncSession, event: EventEnvelope) -> None:
    entity = BillingEntityEvent.model_validate(event.data).billing_entity
    await repository.upsert(session, event.organization_id, entity)


BILLING_ENTITY_CONSUMER = ConsumerSpec(
    name="billing-entities", topics=("invora.billing_entity",), handler=on_billing_entity,
    event_types=frozenset({"billing_entity.created", "billing_entity.updated"}),
)
