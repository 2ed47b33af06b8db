"""The `customer.*` consumer: one transaction per event with its inbox row (the platform consumer's rules)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.envelope import EventEnvelope, topic_for
from payments.customers import service

CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated", "customer.deleted"})


async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
    await service.apply_event(session, envelope)


def customers_consumer() -> ConsumerSpec:
    return ConsumerSpec(name="customers", topics=(topic_for("customer"),), handler=handle,
                        event_types=CUSTOMER_EVENTS)
