"""The state changes every path shares: render, publish, activate, close a period, terminate.

Each function changes rows and writes its events in the caller's transaction; none commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invora.db.flush import flush_loaded
from invora.events.contracts.subscriptions import BillingPeriodEnded, SubscriptionEvent
from invora.events.contracts.subscriptions import Subscription as SubscriptionObject
from invora.ids import uuid7
from invora.outbox import PendingEvent, add_event, add_events
from invora.periods import Period, Schedule, local_date, presented_end, subscription_period, trial_end
from subscriptions.customers.models import Customer
from subscriptions.customers.service import render as render_customer
from subscriptions.plans import repository as plans
from subscriptions.subscriptions import repository
from subscriptions.subscriptions.models import Subscription
from subscriptions.usage.snapshot import events_counted, period_usage


def schedule_of(subscription: Subscription) -> Schedule:
    return Schedule.of(subscription.plan_interval, subscription.billing_time, subscription.subscription_at,
                       subscription.timezone)


def render(subscription: Subscription) -> SubscriptionObject:
    downgrade_date = None
    if subscription.downgrade_at is not None:
        downgrade_date = local_date(subscription.downgrade_at, subscription.timezone).isoformat()
    return SubscriptionObject(
        lago_id=subscription.id, external_id=subscription.external_id, lago_customer_id=subscription.customer_id,
        external_customer_id=subscription.external_customer_id, name=subscription.name,
        plan_code=subscription.plan_code, lago_plan_id=subscription.plan_id,
        lago_plan_version_id=subscription.plan_version_id, plan_amount_cents=subscription.plan_amount_cents,
        plan_amount_currency=subscription.plan_amount_currency, plan_interval=subscription.plan_interval,
        pay_in_advance=subscription.pay_in_advance, status=subscription.status,
        billing_time=subscription.billing_time, subscription_at=subscription.subscription_at,
        started_at=subscription.started_at, ending_at=subscription.ending_at,
        terminated_at=subscription.terminated_at, canceled_at=subscription.canceled_at,
        trial_ended_at=subscription.trial_ended_at, trial_ends_at=subscription.trial_ends_at,
        previous_plan_code=subscription.previous_plan_code, next_plan_code=subscription.next_plan_code,
        downgrade_plan_date=downgrade_date,
        current_billing_period_started_at=subscription.current_period_start,
        # Lago shows the local end of day (…T07:59:59Z); the stored period stays half-open
        current_billing_period_ending_at=(None if subscription.current_period_end is None
                                          else presented_end(subscription.current_period_end)),
        on_termination_invoice=subscription.on_termination_invoice,
        on_termination_credit_note=subscription.on_termination_credit_note,
        purchase_order_number=subscription.purchase_order_number, plan_overrides=subscription.plan_overrides or {},
        created_at=subscription.created_at, timezone=subscription.timezone,
    )


def plan_object(version: dict[str, Any]) -> dict[str, Any]:
    """Lago's `PlanObject` from a pinned plan version (as the catalog served it): the plan's id, name and code,
    the version's prices. `lago_plan_version_id` names the version."""
    prices = {key: version.get(key) for key in (
        "interval", "amount_cents", "amount_currency", "trial_period", "pay_in_advance", "bill_charges_monthly",
        "bill_fixed_charges_monthly", "charges", "fixed_charges", "minimum_commitment", "usage_thresholds", "taxes")}
    return {"lago_id": version["lago_plan_id"], "name": version.get("plan_name") or version["plan_code"],
            "invoice_display_name": version.get("plan_invoice_display_name"),
            "description": version.get("plan_description"), "created_at": version["created_at"],
            "code": version["plan_code"], **prices, "lago_plan_version_id": version["lago_id"]}


async def publish(session: AsyncSession, subscription: Subscription, event_type: str, *,
                  reason: str | None = None, rendered: SubscriptionObject | None = None) -> None:
    """`subscription.*` with Lago's webhook object: the subscription, its customer and its plan."""
    await flush_loaded(session, subscription)
    customer = await session.get(Customer, subscription.customer_id)
    version = await plans.cached_plan_version(session, subscription.organization_id, subscription.plan_version_id)
    await add_event(
        session, type=event_type, organization_id=subscription.organization_id, aggregate_type="subscription",
        aggregate_id=subscription.id,
        data=SubscriptionEvent(subscription=rendered or render(subscription), reason=reason,
                               customer=render_customer(customer) if customer is not None else None,
                               plan=plan_object(version) if version is not None else None),
    )


async def publish_data(session: AsyncSession, subscription: Subscription, event_type: str, data: Any) -> None:
    await add_event(session, type=event_type, organization_id=subscription.organization_id,
                    aggregate_type="subscription", aggregate_id=subscription.id, data=data)


def _open_period(subscription: Subscription, instant: datetime) -> None:
    period = subscription_period(schedule_of(subscription), subscription.started_at, instant)
    subscription.current_period_start, subscription.current_period_end = period.start, period.end


async def activate(session: AsyncSession, subscription: Subscription, started_at: datetime,
                   trial_period_days: Any = None, reason: str | None = None) -> None:
    """pending → active from `started_at`: opens its first period, starts its trial. `reason`: `upgrade` or
    `downgrade` when a plan change starts it (an upgrade's first fee is billed from `subscription.plan_changed`)."""
    subscription.status = "active"
    subscription.started_at = started_at
    subscription.trial_ends_at = trial_end(started_at, trial_period_days)
    _open_period(subscription, started_at)
    await publish(session, subscription, "subscription.started", reason=reason)


async def close_period(session: AsyncSession, subscription: Subscription, end: datetime, reason: str) -> bool:
    """Close the open period at `end` (its natural end, or an earlier termination): exactly once.

    The (subscription, period_start) row is the claim: a second closer, whatever replica it runs
    on, inserts nothing and publishes nothing. Returns whether this call closed it.
    """
    start = subscription.current_period_start
    if start is None or end <= start:
        return False
    row_id = uuid7()
    if not await repository.claim_period(session, row_id, subscription, start, end, reason):
        return False
    schedule = schedule_of(subscription)
    full = schedule.period_at(start)
    next_period: Period | None = None
    # a downgrade due at this end: the subscription ends here, the next plan's subscription takes the next period
    if reason == "period_end" and subscription.next_subscription_id is None:
        next_period = schedule.period_at(end)
        if subscription.ending_at is not None and subscription.ending_at < next_period.end:
            next_period = Period(next_period.start, subscription.ending_at) if subscription.ending_at > end else None
    in_trial = subscription.trial_ends_at if subscription.trial_ends_at and subscription.trial_ends_at > start else None
    usage = await period_usage(session, subscription, start, end)
    if usage is not None:  # what lifetime usage counts as billed, and what a revision compares with
        await repository.record_period_usage(session, row_id, usage.amount_cents,
                                             await events_counted(session, subscription.id, full.start))
    await publish_data(session, subscription, "subscription.billing_period_ended", BillingPeriodEnded(
        lago_billing_period_id=row_id, subscription=render(subscription),
        lago_plan_version_id=subscription.plan_version_id, plan_overrides=subscription.plan_overrides or {},
        period_start=start, period_end=end, full_period_start=full.start, full_period_end=full.end, reason=reason,
        timezone=subscription.timezone, in_trial_until=in_trial,
        next_period_start=next_period.start if next_period else None,
        next_period_end=next_period.end if next_period else None,
        usage=usage,
    ))
    return True


CREATION_CATCH_UP = 10_000  # periods a backdated creation closes at once: weekly since 1970 is ~3,000


async def close_past_periods(session: AsyncSession, subscription: Subscription, now: datetime) -> int:
    """A subscription created backdated: close every period already over, in the creating transaction,
    so the response, reads and ingestion see the period holding `now` at once (Lago computes the current
    period from the date). No event can be in those periods yet, so their usage is computed once and
    dated per period; the rows and the `subscription.billing_period_ended` events (the same a scheduler
    pass would write, in order) go in three statements whatever their number. Returns how many closed."""
    schedule = schedule_of(subscription)
    periods: list[Period] = []
    start, end = subscription.current_period_start, subscription.current_period_end
    while start is not None and end <= now and len(periods) < CREATION_CATCH_UP:
        periods.append(Period(start, end))
        following = subscription_period(schedule, subscription.started_at, end)
        start, end = following.start, following.end
    if not periods:
        return 0
    empty = await period_usage(session, subscription, periods[0].start, periods[0].end)
    rows: list[dict[str, Any]] = []
    events: list[PendingEvent] = []
    for period in periods:
        row_id = uuid7()
        subscription.current_period_start, subscription.current_period_end = period.start, period.end
        usage = None if empty is None else empty.model_copy(update={
            "from_datetime": period.start, "to_datetime": period.end,
            "issuing_date": local_date(presented_end(period.end), subscription.timezone).isoformat()})
        rows.append({"id": row_id, "organization_id": subscription.organization_id,
                     "subscription_id": subscription.id, "period_start": period.start, "period_end": period.end,
                     "reason": "period_end", "event_id": row_id,
                     "usage_amount_cents": None if usage is None else usage.amount_cents,
                     "usage_events_count": None if usage is None else 0})
        following = schedule.period_at(period.end)
        full = schedule.period_at(period.start)
        in_trial = (subscription.trial_ends_at if subscription.trial_ends_at
                    and subscription.trial_ends_at > period.start else None)
        events.append(PendingEvent(
            type="subscription.billing_period_ended", organization_id=subscription.organization_id,
            aggregate_type="subscription", aggregate_id=subscription.id, data=BillingPeriodEnded(
                lago_billing_period_id=row_id, subscription=render(subscription),
                lago_plan_version_id=subscription.plan_version_id, plan_overrides=subscription.plan_overrides or {},
                period_start=period.start, period_end=period.end, full_period_start=full.start,
                full_period_end=full.end, reason="period_end", timezone=subscription.timezone,
                in_trial_until=in_trial, next_period_start=following.start, next_period_end=following.end,
                usage=usage)))
    await repository.add_closed_periods(session, rows)
    await add_events(session, events)
    _open_period(subscription, periods[-1].end)
    return len(periods)


def advance_period(subscription: Subscription) -> None:
    """After a natural close: the next period opens where the last one ended."""
    _open_period(subscription, subscription.current_period_end)


async def terminate(session: AsyncSession, subscription: Subscription, at: datetime, reason: str,
                    close_reason: str = "termination") -> None:
    """active → terminated at `at` (its last period closes then); pending → canceled."""
    if subscription.status == "pending":
        subscription.status = "canceled"
        subscription.canceled_at = at
        await publish(session, subscription, "subscription.canceled", reason=reason)
        return
    if subscription.status != "active":
        return
    if subscription.current_period_start is not None and at > subscription.current_period_start:
        await close_period(session, subscription, at, close_reason)
    subscription.status = "terminated"
    subscription.terminated_at = at
    subscription.current_period_start = subscription.current_period_end = None
    await publish(session, subscription, "subscription.terminated", reason=reason)
