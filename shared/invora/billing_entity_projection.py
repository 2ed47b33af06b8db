"""The catalog's billing entities as other services project them (`billing_entity.created|updated`, internal).

Each service keeps what it needs in its own table: subscriptions the codes (to check a customer's
`billing_entity_code`), invoicing what it applies to invoices (numbering, grace period, payment term,
timezone, taxes). What is the same everywhere is here: the consumer (topic, event types, payload) and the
rule that a newer `updated_at` wins (`invora.db.upsert.upsert_newer`, which each service's upsert uses).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.catalog import BillingEntity, BillingEntityEvent
from invora.events.envelope import EventEnvelope, topic_for

BILLING_ENTITY_EVENTS = frozenset({"billing_entity.created", "billing_entity.updated"})

# a service's upsert of one entity into its own projection
ApplyEntity = Callable[[AsyncSession, uuid.UUID, BillingEntity], Awaitable[None]]


def billing_entities_consumer(apply: ApplyEntity) -> ConsumerSpec:
    """The `billing-entities` consumer: one transaction per event with its inbox row."""

    async def handle(session: AsyncSession, event: EventEnvelope) -> None:
        await apply(session, event.organization_id, BillingEntityEvent.model_validate(event.data).billing_entity)

    return ConsumerSpec(name="billing-entities", topics=(topic_for("billing_entity"),), handler=handle,
                        event_types=BILLING_ENTITY_EVENTS)
