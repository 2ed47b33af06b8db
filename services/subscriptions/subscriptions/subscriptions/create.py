"""POST /subscriptions: create, or change the plan of the subscription with this `external_id` (Lago).

- no live subscription with this id: create it, `active` from `subscription_at` (default now) or
  `pending` until a future `subscription_at`;
- same plan: the current subscription is returned unchanged;
- another plan on a pending subscription: the pending one takes the new plan in place;
- another plan whose yearly price (with overrides) is >= the current one's: upgrade now, the old
  subscription terminates and its last period closes at once;
- a cheaper plan: downgrade at the end of the current period, the new subscription waits as
  `pending` (a second downgrade cancels the first one's pending subscription).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.flush import flush_loaded
from invora.events.contracts.subscriptions import PlanChange
from invora.ids import uuid7
from subscriptions.customers import service as customers
from subscriptions.customers.errors import CurrencyMismatch
from subscriptions.customers.models import Customer
from subscriptions.customers.schemas import CustomerInput
from subscriptions.plans.client import CatalogClient
from subscriptions.subscriptions import lifecycle, repository
from subscriptions.subscriptions.errors import EndingAtInvalid, SubscriptionExternalIdTaken
from subscriptions.subscriptions.models import Subscription
from subscriptions.subscriptions.plan_terms import PlanTerms, check_overrides
from subscriptions.subscriptions.repository import has_live_subscriptions
from subscriptions.subscriptions.schemas import SubscriptionInput, overrides_dict


async def load_terms(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID, plan_code: str,
                     overrides: dict) -> PlanTerms:
    plan = await catalog.plan(organization_id, plan_code)
    version = await catalog.plan_version(session, organization_id, uuid.UUID(plan["lago_plan_version_id"]))
    await remember_entitlements(session, organization_id, plan, datetime.now(UTC))
    return PlanTerms(plan=plan, version=version, overrides=overrides)


async def remember_entitlements(session: AsyncSession, organization_id: uuid.UUID, plan: dict,
                                as_of: datetime) -> None:
    """Keep the plan's entitlements as of `as_of`; what the catalog said earlier never overwrites it."""
    await repository.remember_entitlements(session, organization_id, uuid.UUID(str(plan["lago_id"])), plan["code"],
                                           plan.get("entitlements") or [], as_of)


async def _customer_for(session: AsyncSession, organization_id: uuid.UUID, external_customer_id: str,
                        now: datetime) -> Customer:
    """Lago creates the customer when a subscription names one it does not know."""
    customer = await customers.find(session, organization_id, external_customer_id, for_update=True)
    if customer is None:
        customer, _ = await customers.upsert(session, organization_id,
                                             CustomerInput(external_id=external_customer_id), now)
        customer = await customers.get(session, organization_id, external_customer_id, for_update=True)
    return customer


async def _settle_currency(session: AsyncSession, customer: Customer, currency: str) -> None:
    if customer.currency == currency:
        return
    if customer.currency is not None and await has_live_subscriptions(session, customer.id):
        raise CurrencyMismatch()
    customer.currency = currency
    await flush_loaded(session, customer)
    await customers.publish_updated(session, customer)


async def _current(session: AsyncSession, customer: Customer, external_id: str) -> Subscription | None:
    rows = await repository.live_by_external_id(session, customer.organization_id, external_id)
    if any(row.customer_id != customer.id for row in rows):
        raise SubscriptionExternalIdTaken()
    active = [row for row in rows if row.status == "active"]
    return active[0] if active else (rows[0] if rows else None)


def _new_row(customer: Customer, data: SubscriptionInput, terms: PlanTerms, subscription_at: datetime,
             now: datetime, **fields) -> Subscription:
    return Subscription(
        id=uuid7(), organization_id=customer.organization_id, customer_id=customer.id,
        external_customer_id=customer.external_id, external_id=data.external_id, name=data.name,
        status="pending", billing_time=fields.pop("billing_time", data.billing_time or "calendar"),
        plan_code=terms.plan["code"], plan_id=uuid.UUID(str(terms.plan["lago_id"])),
        plan_version_id=uuid.UUID(str(terms.version["lago_id"])), plan_interval=terms.interval,
        plan_amount_cents=terms.amount_cents, plan_amount_currency=terms.currency,
        pay_in_advance=terms.pay_in_advance,
        trial_period_days=str(terms.trial_period) if terms.trial_period is not None else None,
        timezone=customer.timezone or "UTC", plan_overrides=terms.overrides, entitlement_overrides={},
        removed_entitlements=[], on_termination_invoice="generate", purchase_order_number=data.purchase_order_number,
        subscription_at=subscription_at, ending_at=data.ending_at, created_at=now, updated_at=now, **fields,
    )


def _check_dates(subscription_at: datetime, ending_at: datetime | None, now: datetime) -> None:
    if ending_at is not None and (ending_at <= subscription_at or ending_at <= now):
        raise EndingAtInvalid()


async def create_or_change(session: AsyncSession, catalog: CatalogClient, organization_id: uuid.UUID,
                           data: SubscriptionInput, now: datetime) -> Subscription:
    overrides = overrides_dict(data.plan_overrides)
    terms = await load_terms(session, catalog, organization_id, data.plan_code, overrides)
    check_overrides(terms.version, data.plan_overrides)
    customer = await _customer_for(session, organization_id, data.external_customer_id, now)
    current = await _current(session, customer, data.external_id)
    if current is None:
        subscription_at = data.subscription_at or now
        _check_dates(subscription_at, data.ending_at, now)
        await _settle_currency(session, customer, terms.currency)
        subscription = _new_row(customer, data, terms, subscription_at, now)
        session.add(subscription)
        await lifecycle.publish(session, subscription, "subscription.created")
        if subscription_at <= now:
            await lifecycle.activate(session, subscription, subscription_at, terms.trial_period)
            # backdated: its past periods close now, so it is current from the moment it exists
            await lifecycle.close_past_periods(session, subscription, now)
        return subscription
    if current.plan_code == terms.plan["code"]:
        return current
    if terms.currency != current.plan_amount_currency:
        raise CurrencyMismatch()
    _check_dates(current.subscription_at, data.ending_at, now)
    if current.status == "pending":
        return await _replace_pending_plan(session, current, terms, data, now)
    current_yearly = current.plan_amount_cents * {"weekly": 52, "monthly": 12, "quarterly": 4, "semiannual": 2,
                                                  "yearly": 1}[current.plan_interval]
    if terms.yearly_amount_cents >= current_yearly:
        return await _upgrade(session, customer, current, terms, data, now)
    return await _downgrade(session, customer, current, terms, data, now)


async def _replace_pending_plan(session: AsyncSession, pending: Subscription, terms: PlanTerms,
                                data: SubscriptionInput, now: datetime) -> Subscription:
    pending.plan_code = terms.plan["code"]
    pending.plan_id = uuid.UUID(str(terms.plan["lago_id"]))
    pending.plan_version_id = uuid.UUID(str(terms.version["lago_id"]))
    pending.plan_interval, pending.plan_amount_cents = terms.interval, terms.amount_cents
    pending.plan_amount_currency, pending.pay_in_advance = terms.currency, terms.pay_in_advance
    pending.trial_period_days = str(terms.trial_period) if terms.trial_period is not None else None
    pending.plan_overrides = terms.overrides
    if data.given("name"):
        pending.name = data.name
    pending.updated_at = now
    await lifecycle.publish(session, pending, "subscription.updated")
    return pending


async def _upgrade(session: AsyncSession, customer: Customer, current: Subscription, terms: PlanTerms,
                   data: SubscriptionInput, now: datetime) -> Subscription:
    previous_period_start, previous_period_end = current.current_period_start, current.current_period_end
    if current.next_subscription_id is not None:  # an upgrade supersedes a scheduled downgrade
        await _cancel_next(session, current, now)
    await lifecycle.terminate(session, current, now, reason="upgrade", close_reason="plan_change")
    current.next_plan_code = terms.plan["code"]
    # the new subscription keeps the old one's anniversary and billing time (Lago)
    subscription = _new_row(customer, data, terms, current.subscription_at, now, billing_time=current.billing_time,
                            previous_subscription_id=current.id, previous_plan_code=current.plan_code)
    subscription.name = data.name if data.given("name") else current.name
    session.add(subscription)
    current.next_subscription_id = subscription.id
    await lifecycle.publish(session, subscription, "subscription.created")
    # the trial is not granted again on a plan change (it ran from the first start)
    await lifecycle.activate(session, subscription, now, None, reason="upgrade")
    full = lifecycle.schedule_of(subscription).period_at(now)
    # keyed by the old subscription: invoicing reads it after that subscription's last period closed
    await lifecycle.publish_data(session, current, "subscription.plan_changed", PlanChange(
        direction="upgrade", effective_at=now, previous_subscription=lifecycle.render(current),
        next_subscription=lifecycle.render(subscription), previous_period_start=previous_period_start,
        previous_period_end=previous_period_end, next_period_end=subscription.current_period_end,
        next_full_period_start=full.start, next_full_period_end=full.end,
    ))
    return subscription


async def _cancel_next(session: AsyncSession, current: Subscription, now: datetime) -> None:
    pending = await repository.get_for_update(session, current.next_subscription_id)
    if pending is not None and pending.status == "pending":
        await lifecycle.terminate(session, pending, now, reason="superseded")
    current.next_subscription_id = None
    current.next_plan_code = None
    current.downgrade_at = None


async def _downgrade(session: AsyncSession, customer: Customer, current: Subscription, terms: PlanTerms,
                     data: SubscriptionInput, now: datetime) -> Subscription:
    if current.next_subscription_id is not None:
        await _cancel_next(session, current, now)
    effective_at = current.current_period_end or now
    subscription = _new_row(customer, data, terms, current.subscription_at, now, billing_time=current.billing_time,
                            previous_subscription_id=current.id, previous_plan_code=current.plan_code)
    subscription.name = data.name if data.given("name") else current.name
    session.add(subscription)
    current.next_subscription_id = subscription.id
    current.next_plan_code = subscription.plan_code
    current.downgrade_at = effective_at
    current.updated_at = now
    await lifecycle.publish(session, subscription, "subscription.created")
    await lifecycle.publish(session, current, "subscription.updated")
    await lifecycle.publish_data(session, current, "subscription.plan_changed", PlanChange(
        direction="downgrade", effective_at=effective_at, previous_subscription=lifecycle.render(current),
        next_subscription=lifecycle.render(subscription),
    ))
    return current
