"""The projections' consumers: customers (subscriptions), plan versions, taxes, coupons, add-ons, the
organization's settings and billing entities (catalog).

Each event is handled once (platform consumer + inbox) in one transaction with its effect. A
customer row only moves forward (`updated_at`); a plan version, once known, never changes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.projections import repository
from invora.billing_entity_projection import billing_entities_consumer
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.catalog import (
    AddOnEvent,
    CouponEvent,
    OrganizationEvent,
    PlanEvent,
    TaxEvent,
)
from invora.events.contracts.subscriptions import CustomerEvent
from invora.events.envelope import EventEnvelope


async def on_customer(session: AsyncSession, event: EventEnvelope) -> None:
    await repository.upsert_customer(session, event.organization_id, CustomerEvent.model_validate(event.data).customer)


async def on_plan(session: AsyncSession, event: EventEnvelope) -> None:
    await repository.remember_plan_version(session, event.organization_id, PlanEvent.model_validate(event.data).plan)


async def on_tax(session: AsyncSession, event: EventEnvelope) -> None:
    tax = TaxEvent.model_validate(event.data).tax
    await repository.upsert_tax(session, event.organization_id, tax, deleted=event.type == "tax.deleted")


async def on_coupon(session: AsyncSession, event: EventEnvelope) -> None:
    coupon = CouponEvent.model_validate(event.data).coupon
    await repository.upsert_coupon(session, event.organization_id, coupon, deleted=event.type == "coupon.deleted")


async def on_add_on(session: AsyncSession, event: EventEnvelope) -> None:
    add_on = AddOnEvent.model_validate(event.data).add_on
    await repository.upsert_add_on(session, event.organization_id, add_on, deleted=event.type == "add_on.deleted")


async def on_organization(session: AsyncSession, event: EventEnvelope) -> None:
    organization = OrganizationEvent.model_validate(event.data).organization
    await repository.upsert_organization(session, event.organization_id, organization, event.occurred_at)


BILLING_ENTITY_CONSUMER = billing_entities_consumer(repository.upsert_billing_entity)
on_billing_entity = BILLING_ENTITY_CONSUMER.handler


def _verbs(aggregate: str) -> frozenset[str]:
    return frozenset(f"{aggregate}.{verb}" for verb in ("created", "updated", "deleted"))


PROJECTION_CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec(name="customers", topics=("invora.customer",), handler=on_customer,
                 event_types=_verbs("customer")),
    ConsumerSpec(name="plan-versions", topics=("invora.plan",), handler=on_plan,
                 event_types=frozenset({"plan.created", "plan.updated"})),
    ConsumerSpec(name="taxes", topics=("invora.tax",), handler=on_tax, event_types=_verbs("tax")),
    ConsumerSpec(name="coupons", topics=("invora.coupon",), handler=on_coupon, event_types=_verbs("coupon")),
    ConsumerSpec(name="organizations", topics=("invora.organization",), handler=on_organization,
                 event_types=frozenset({"organization.updated"})),
    BILLING_ENTITY_CONSUMER,
    ConsumerSpec(name="add-ons", topics=("invora.add_on",), handler=on_add_on, event_types=_verbs("add_on")),
)
