"""What the subscriptions service hears from the catalog.

- `plan.created|updated`: the plan's entitlements (plan-level, not versioned) refresh the local
  projection the entitlement check reads;
- `plan.cascade_requested`: subscriptions on the previous version move to the new one. Their
  overrides stay: a subscription that overrode a price keeps its price, and takes the new
  version's other prices (the catalog's contract);
- `billing_entity.created|updated`: the organization's entity codes (`billing_entities/`).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.catalog import PlanCascadeRequestedEvent, PlanEvent
from invora.events.envelope import EventEnvelope
from invora.logging import get_logger
from subscriptions.billing_entities.consumer import BILLING_ENTITY_CONSUMER
from subscriptions.plans.client import CatalogClient
from subscriptions.runtime import SubscriptionsRuntime
from subscriptions.subscriptions import lifecycle, repository
from subscriptions.subscriptions.create import remember_entitlements
from subscriptions.subscriptions.plan_terms import PlanTerms

log = get_logger(__name__)


async def refresh_entitlements(session: AsyncSession, event: EventEnvelope) -> None:
    plan = PlanEvent.model_validate(event.data).plan
    await remember_entitlements(session, event.organization_id, plan.model_dump(mode="json"), event.occurred_at)


async def cascade(session: AsyncSession, event: EventEnvelope, catalog: CatalogClient) -> None:
    data = PlanCascadeRequestedEvent.model_validate(event.data)
    rows = await repository.live_on_plan_version(session, event.organization_id, data.from_plan_version_id)
    if not rows:
        return
    version = await catalog.plan_version(session, event.organization_id, data.to_plan_version_id)
    for subscription in rows:
        terms = PlanTerms(plan={}, version=version, overrides=subscription.plan_overrides or {})
        if terms.interval != subscription.plan_interval and subscription.status == "active":
            # an open period cannot change length under a running subscription
            log.warning("cascade_interval_change_skipped", subscription_id=str(subscription.id))
            continue
        subscription.plan_version_id = uuid.UUID(str(version["lago_id"]))
        subscription.plan_interval = terms.interval
        subscription.plan_amount_cents = terms.amount_cents
        subscription.pay_in_advance = terms.pay_in_advance
        subscription.trial_period_days = str(terms.trial_period) if terms.trial_period is not None else None
        await lifecycle.publish(session, subscription, "subscription.updated", reason="plan_cascade")


def catalog_consumers(runtime: SubscriptionsRuntime) -> tuple[ConsumerSpec, ...]:
    async def on_cascade(session: AsyncSession, event: EventEnvelope) -> None:
        assert runtime.catalog is not None, "the catalog lifespan starts before the consumers"
        await cascade(session, event, runtime.catalog)

    return (
        ConsumerSpec(name="plan-entitlements", topics=("invora.plan",), handler=refresh_entitlements,
                     event_types=frozenset({"plan.created", "plan.updated"})),
        ConsumerSpec(name="plan-cascade", topics=("invora.plan",), handler=on_cascade,
                     event_types=frozenset({"plan.cascade_requested"})),
        BILLING_ENTITY_CONSUMER,
    )
