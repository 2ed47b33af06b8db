"""PUT /subscriptions/{external_id}: name, ending_at, purchase order, overrides; subscription_at while pending."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import lifecycle
from subscriptions.subscriptions.errors import (
    EndingAtInvalid,
    OverrideCurrencyMismatch,
    SubscriptionAtNotUpdatable,
    SubscriptionNotEditable,
)
from subscriptions.subscriptions.models import Subscription
from subscriptions.subscriptions.plan_terms import PlanTerms, check_overrides
from subscriptions.subscriptions.repository import find_by_external_id
from subscriptions.subscriptions.schemas import SubscriptionUpdateInput, overrides_dict


async def update(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, external_id: str,
                 status: str | None, data: SubscriptionUpdateInput, now: datetime) -> Subscription:
    subscription = await find_by_external_id(session, organization_id, external_id, status=status, for_update=True)
    if subscription.status not in ("active", "pending"):
        raise SubscriptionNotEditable()
    if data.given("name"):
        subscription.name = data.name
    if data.given("purchase_order_number"):
        subscription.purchase_order_number = data.purchase_order_number
    if data.given("subscription_at") and data.subscription_at is not None:
        if subscription.status != "pending":
            raise SubscriptionAtNotUpdatable()
        subscription.subscription_at = data.subscription_at
    if data.given("ending_at"):
        if data.ending_at is not None and (data.ending_at <= now or data.ending_at <= subscription.subscription_at):
            raise EndingAtInvalid()
        subscription.ending_at = data.ending_at
    if data.given("plan_overrides") and data.plan_overrides is not None:
        version = await catalog.plan_version(session, organization_id, subscription.plan_version_id)
        check_overrides(version, data.plan_overrides)
        merged = {**(subscription.plan_overrides or {}), **overrides_dict(data.plan_overrides)}
        if merged.get("amount_currency", subscription.plan_amount_currency) != subscription.plan_amount_currency:
            raise OverrideCurrencyMismatch()
        terms = PlanTerms(plan={}, version=version, overrides=merged)
        subscription.plan_overrides = merged
        subscription.plan_amount_cents = terms.amount_cents
        subscription.trial_period_days = str(terms.trial_period) if terms.trial_period is not None else None
    subscription.updated_at = now
    await lifecycle.publish(session, subscription, "subscription.updated")
    return subscription
