"""What the invoicing service hears from the subscriptions service.

- `subscription.billing_period_ended`: the period's invoice (exactly once per (subscription, period, reason));
- `subscription.started`: the first period's fee when the plan is paid in advance (not on an upgrade);
- `subscription.plan_changed`: an upgrade's credit (unused advance fee of the old plan) and the new plan's
  first fee paid in advance (keyed by the old subscription: after its last period's invoice);
- `subscription.billing_period_usage_revised`: late usage, by `sequence` (`invoicing.late_usage`): a draft of
  that period is computed again; a final one gets a follow-up invoice for the difference.
- `subscription.pay_in_advance_usage`: an event reached a charge paid in advance: its fee (and invoice);
- `subscription.usage_threshold_reached`: lifetime usage crossed a threshold: a progressive-billing invoice.

A fetched batch per transaction (platform consumer + inbox; a failed batch is retried one event per
transaction); each invoice computes at its event's `occurred_at`, so a redelivery computes the same
invoice (and inserts nothing: unique key).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.credits import repository as credits
from invoicing.invoices import advance, generate, lifecycle, progressive, repository
from invoicing.invoices.errors import PlanVersionUnknown
from invoicing.late_usage import repository as usage_revisions
from invoicing.late_usage import service as late_usage
from invoicing.prepaid_credits import repository as prepaid_credits
from invoicing.projections import repository as projections
from invoicing.projections.catalog import fetch_plan_version
from invoicing.runtime import InvoicingRuntime
from invoicing.unit_credits import repository as unit_credit_grants
from invoicing.unit_credits import service as unit_credits
from invora.bus.consumer import ConsumerSpec
from invora.events.contracts.subscriptions import (
    BillingPeriodEnded,
    BillingPeriodUsageRevised,
    PayInAdvanceUsage,
    PlanChange,
    SubscriptionEvent,
    UsageThresholdReached,
)
from invora.events.envelope import EventEnvelope


async def on_period_ended(session: AsyncSession, event: EventEnvelope) -> None:
    await generate.invoice_period(session, event.organization_id, BillingPeriodEnded.model_validate(event.data),
                                  event.occurred_at)


async def on_started(session: AsyncSession, event: EventEnvelope) -> None:
    await generate.invoice_start(session, event.organization_id, SubscriptionEvent.model_validate(event.data),
                                 event.occurred_at)


async def on_usage_revised(session: AsyncSession, event: EventEnvelope) -> None:
    await late_usage.revise(session, event.organization_id, BillingPeriodUsageRevised.model_validate(event.data),
                            event.sequence, event.occurred_at)


async def on_plan_changed(session: AsyncSession, event: EventEnvelope) -> None:
    await generate.invoice_plan_change(session, event.organization_id, PlanChange.model_validate(event.data),
                                       event.occurred_at)


async def on_pay_in_advance_usage(session: AsyncSession, event: EventEnvelope) -> None:
    await advance.on_usage(session, event.organization_id, PayInAdvanceUsage.model_validate(event.data),
                           event.occurred_at)


async def on_usage_threshold_reached(session: AsyncSession, event: EventEnvelope) -> None:
    await progressive.on_threshold_reached(session, event.organization_id,
                                           UsageThresholdReached.model_validate(event.data), event.occurred_at)


HANDLERS = {"subscription.billing_period_ended": on_period_ended, "subscription.started": on_started,
            "subscription.billing_period_usage_revised": on_usage_revised,
            "subscription.plan_changed": on_plan_changed,
            "subscription.pay_in_advance_usage": on_pay_in_advance_usage,
            "subscription.usage_threshold_reached": on_usage_threshold_reached}


async def on_subscription_event(session: AsyncSession, event: EventEnvelope) -> None:
    await HANDLERS[event.type](session, event)


async def on_subscription_events(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
    """A fetched batch of one partition in one transaction (the platform consumer's batch mode): one commit
    for many invoices on a billing day. Each event's effect stands alone (its own unique claim), so when a
    batch fails the platform runs its events again one per transaction, as the contract asks.

    What every invoice of the batch reads anyway (its customer, plan version, whether the customer is
    parked, holds credits, an active wallet, unit grants or an applied coupon, and the subscriptions' billed
    periods for the billing check) is read first for the whole batch, one query each, instead of once per
    invoice.

    The period closes' invoices are numbered together at the batch's end (`lifecycle.defer_numbering`): the
    organization's counter is locked for the last statements of the transaction only. Any other event first
    has the waiting ones numbered, so it sees them final, as it would one event per transaction."""
    await _prefetch(session, events)
    for event in events:
        await lifecycle.defer_numbering(session, event.type == "subscription.billing_period_ended")
        await on_subscription_event(session, event)
    await lifecycle.defer_numbering(session, False)  # the waiting ones numbered; back to numbering at once


async def _prefetch(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
    wanted: dict[uuid.UUID, tuple[set[uuid.UUID], set[uuid.UUID]]] = {}
    subscriptions: dict[uuid.UUID, set[uuid.UUID]] = {}
    periods: dict[uuid.UUID, set[uuid.UUID]] = {}
    for event in events:
        if event.type == "subscription.billing_period_ended" and isinstance(event.data, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                periods.setdefault(event.organization_id, set()).add(
                    uuid.UUID(str(event.data["lago_billing_period_id"])))
        subscription = event.data.get("subscription") if isinstance(event.data, dict) else None
        if not isinstance(subscription, dict):
            continue
        customers, versions = wanted.setdefault(event.organization_id, (set(), set()))
        with contextlib.suppress(KeyError, TypeError, ValueError):  # a malformed event fails in its handler, not here
            customers.add(uuid.UUID(str(subscription["lago_customer_id"])))
            subscriptions.setdefault(event.organization_id, set()).add(uuid.UUID(str(subscription["lago_id"])))
            versions.add(uuid.UUID(str(event.data.get("lago_plan_version_id") or subscription["lago_plan_version_id"])))
    for organization_id, (customers, versions) in wanted.items():
        await projections.prefetch(session, organization_id, list(customers), list(versions))
        await repository.prefetch_parked(session, organization_id, list(customers))
        await credits.prefetch_customers_with_credits(session, organization_id, list(customers))
        await prepaid_credits.prefetch_active_wallets(session, organization_id, list(customers))
        await unit_credit_grants.prefetch_active_grants(session, organization_id, list(customers))
        await repository.prefetch_coupon_holders(session, organization_id, list(customers))
        await repository.prefetch_billed_periods(session, organization_id, list(subscriptions.get(organization_id, ())))
    for organization_id, period_ids in periods.items():  # the closes' late usage, their periods locked
        await usage_revisions.prefetch_latest(session, organization_id, sorted(period_ids))


def with_catalog_fallback(runtime: InvoicingRuntime):
    """The batch handler, asking the catalog for a plan version the projection lacks (`projections.catalog`):
    stored in its own transaction, then the failure goes up and the platform consumer retries the events,
    which find it. Without an answer (catalog down, version unknown there) the events are retried and parked
    with back-off as before."""

    async def handle(session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        token = unit_credits.WALLETS.set(runtime.wallets)  # period invoices of customers with unit grants ask it
        try:
            await on_subscription_events(session, events)
        except PlanVersionUnknown as exc:
            version_id, organization_id = exc.args[0], exc.args[1] if len(exc.args) > 1 else None
            if organization_id is not None:
                await fetch_plan_version(session, runtime.catalog, uuid.UUID(organization_id), uuid.UUID(version_id))
            raise
        finally:
            unit_credits.WALLETS.reset(token)

    return handle


def invoice_consumers(runtime: InvoicingRuntime) -> tuple[ConsumerSpec, ...]:
    # one consumer for every type: a subscription's events stay in order (start before its first period's end)
    return (ConsumerSpec(name="subscription-invoices", topics=("invora.subscription",),
                         batch_handler=with_catalog_fallback(runtime), event_types=frozenset(HANDLERS)),)
