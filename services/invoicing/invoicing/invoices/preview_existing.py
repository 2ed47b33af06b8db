"""Preview of existing subscriptions (Lago's `POST /invoices/preview` with `subscriptions.external_ids`): what the
customer's next invoice of those subscriptions would be if their open periods ended now. Writes nothing: no
row, no event, no coupon, credit or wallet touched (`test_preview_existing.py` compares the tables before and
after).

- Each subscription and its open period's usage are read fresh from the subscriptions service over HTTP
  (`GET /subscriptions/{id}`, `GET /customers/{id}/current_usage`, a `service` key, timeout and retry;
  unreachable: 503). The usage is priced again with the plan version this service keeps, exactly as the
  period's real invoice will be (`generate.period_lines`: subscription fee in arrears for the open period, or
  paid in advance for the next one; charges; minimum true-ups).
- Then the invoice's own order: the customer's applied coupons (oldest first) and inline `coupons`, taxes by
  precedence, the customer's credits (upgrade credits), and prepaid credits: when the wallets projection says
  the customer has an active wallet in the currency, the wallets service's balances (fresh, over HTTP) up to
  the amount due (an estimate: a wallet's `applies_to` restriction is not applied here).
- Progressive billing: the period invoice's own deduction (`service.period_progressive_credit`, when
  `service.deducts_progressive_billing`), and the units its progressive invoices credited priced as credited
  (`generate.progressive_unit_credits`): the preview equals the period-end invoice.
- Unit credits (seed 002): when the grants projection says the customer holds a live grant of a metric the
  periods price, what is left of its grants is read from wallets (`GET /customers/{id}/unit_credits`, fresh,
  nothing consumed) and offsets the periods' units as the real invoice will (`unit_credits.requested_units`
  then `generate.period_lines` with the credited units), subscription after subscription from one pool.
- A plan change (`subscriptions.plan_code`, one subscription; Lago's `SubscriptionPlanChangeService`): an
  upgrade (the new plan's yearly amount at least the current one's, the subscriptions service's rule) closes the
  old period now (`reason = plan_change`: charges so far, a fee in arrears up to the upgrade's day excluded), the
  unused days of its advance fee are credited (the credit part of the note `credit_notes/unused.py` would
  write) and the new plan's first fee paid in advance is added (`generate.upgrade_lines`); a downgrade closes
  the old period at its end with no next advance fee and adds the new plan's start fees (`generate.start_lines`).
  One invoice, as Lago's preview (the real change makes two: the old period's and the new plan's).
- A termination (`subscriptions.terminated_at`, one subscription; not in the past, at most the current period's
  end; or, as Lago's, one subscription whose `ending_at` falls in its current period): the period closes then
  (`reason = termination`: usage so far, a fee in arrears prorated to the termination's day), and an advance
  fee's days after that day are credited as the termination will (the credit part of its note,
  `credit_notes/unused.planned`; `on_termination_credit_note` respected).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.coupons import CouponState
from invoicing.billing.prepaid import with_prepaid_credit
from invoicing.billing.subscription_fee import local_date
from invoicing.credit_notes import unused
from invoicing.credits import repository as credits_repository
from invoicing.credits import service as credits
from invoicing.invoices import generate, repository, service
from invoicing.invoices.errors import DependencyUnavailable, PlanVersionUnknown
from invoicing.invoices.generate import Line
from invoicing.invoices.models import Fee, Invoice, InvoiceAppliedTax
from invoicing.invoices.render import render_invoice
from invoicing.invoices.schemas import PreviewSubscriptionsInput
from invoicing.prepaid_credits import repository as wallets
from invoicing.projections import fresh
from invoicing.projections import repository as projections
from invoicing.projections.models import PlanVersionProjection
from invoicing.runtime import InvoicingRuntime
from invoicing.unit_credits import service as unit_credits
from invora.errors import NotFound, ValidationFailed
from invora.events.contracts.invoicing import Invoice as InvoiceObject
from invora.events.contracts.subscriptions import (
    BillingPeriodEnded,
    PlanChange,
    Subscription,
    SubscriptionEvent,
    UsageSnapshot,
)
from invora.periods import Period, Schedule, presented_end, yearly_amount_cents
from invora.service_client import ServiceClient, ServiceUnavailableError

NIL = uuid.UUID(int=0)


def _schedule(subscription: Subscription, interval: str | None = None) -> Schedule:
    return Schedule.of(interval or subscription.plan_interval, subscription.billing_time, subscription.subscription_at,
                       subscription.timezone)


def current_period(subscription: Subscription) -> tuple[Period, Period]:
    """The open period, exactly as the subscriptions service holds it (the API shows its end less a second), and
    the schedule's full period holding it."""
    start = subscription.current_billing_period_started_at
    if start is None or subscription.current_billing_period_ending_at is None:
        raise ValidationFailed(subscriptions=["no_open_billing_period"])
    full = _schedule(subscription).period_at(start)
    end = full.end if subscription.ending_at is None else min(full.end, subscription.ending_at)
    return Period(start, end), full


def closing(subscription: Subscription, usage: UsageSnapshot, end: datetime,
            reason: Literal["period_end", "termination", "plan_change"]) -> BillingPeriodEnded:
    """The open period as the subscriptions service will close it at `end` (`lifecycle.close_period`): the full
    period of its start, the trial when it overlaps, the next period on a natural end without a downgrade due."""
    period, full = current_period(subscription)
    next_period: Period | None = None
    if reason == "period_end" and subscription.next_plan_code is None:
        next_period = _schedule(subscription).period_at(end)
        if subscription.ending_at is not None and subscription.ending_at < next_period.end:
            next_period = Period(next_period.start, subscription.ending_at) if subscription.ending_at > end else None
    trial = subscription.trial_ends_at
    return BillingPeriodEnded(
        lago_billing_period_id=NIL, subscription=subscription, lago_plan_version_id=subscription.lago_plan_version_id,
        plan_overrides=subscription.plan_overrides, period_start=period.start, period_end=end,
        full_period_start=full.start, full_period_end=full.end, reason=reason, timezone=subscription.timezone,
        in_trial_until=trial if trial is not None and trial > period.start else None,
        next_period_start=next_period.start if next_period else None,
        next_period_end=next_period.end if next_period else None, usage=usage)


def open_period(subscription: Subscription, usage: UsageSnapshot) -> BillingPeriodEnded:
    """The subscription's open period as if it closed now at its natural end (the event its real invoice will
    come from)."""
    return closing(subscription, usage, current_period(subscription)[0].end, "period_end")


@dataclass(frozen=True, slots=True)
class Previewed:
    """What one subscription brings to the preview: its period as it will close, the new plan's first fees (a plan
    change), the credit of its unused advance fee (an upgrade or a termination) and the invoice's date."""

    closes: BillingPeriodEnded
    next_lines: list[Line]
    credit_cents: int
    billed_at: datetime


def _next_subscription(old: Subscription, version: PlanVersionProjection, at: datetime,
                       now: datetime) -> tuple[Subscription, Period]:
    """The new plan's subscription as the subscriptions service starts it at `at` (`create._upgrade` /
    the downgrade's activation): the old one's anniversary, billing time and end, no trial (not granted again)."""
    plan = version.body
    full = _schedule(old, plan["interval"]).period_at(at)
    end = full.end if old.ending_at is None else min(full.end, old.ending_at)
    return old.model_copy(update=dict(
        lago_id=NIL, lago_plan_id=version.plan_id, lago_plan_version_id=version.id, plan_code=version.plan_code,
        plan_amount_cents=int(plan["amount_cents"]), plan_amount_currency=plan["amount_currency"],
        plan_interval=plan["interval"], pay_in_advance=bool(plan["pay_in_advance"]), status="active",
        started_at=at, terminated_at=None, trial_ends_at=None, trial_ended_at=None, plan_overrides={},
        previous_plan_code=old.plan_code, next_plan_code=None, downgrade_plan_date=None,
        current_billing_period_started_at=at, current_billing_period_ending_at=presented_end(end), created_at=now,
    )), full


async def _plan_change(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                       usage: UsageSnapshot, plan_code: str, now: datetime) -> Previewed:
    versions = await projections.plan_versions_by_code(session, organization_id, plan_code)
    if not versions:
        raise NotFound("plan")
    version = max(versions, key=lambda v: int(v.body.get("version") or 0))
    plan = version.body
    if version.plan_id == subscription.lago_plan_id:
        raise ValidationFailed(base=["new_plan_should_be_different_from_existing_plan"])
    if plan["amount_currency"] != subscription.plan_amount_currency:
        raise ValidationFailed(currency=["currencies_does_not_match"])
    period, _ = current_period(subscription)
    upgrade = yearly_amount_cents(plan["interval"], int(plan["amount_cents"])) >= yearly_amount_cents(
        subscription.plan_interval, subscription.plan_amount_cents)
    at = now if upgrade else period.end
    following, full = _next_subscription(subscription, version, at, now)
    ctx = await generate.context_of(session, organization_id, following, version.id)
    bills = generate.bills_at_start(following, version)
    if not upgrade:  # at the period's end: the old period closes with no next fee (a downgrade is due), the new
        # plan's subscription starts and bills what it bills at its start
        lines = generate.start_lines(ctx, SubscriptionEvent(subscription=following, reason="downgrade")) \
            if bills else []
        due = subscription.model_copy(update={"next_plan_code": version.plan_code})
        return Previewed(closing(due, usage, period.end, "period_end"), lines, 0, period.end)
    change = PlanChange(
        direction="upgrade", effective_at=now, previous_subscription=subscription, next_subscription=following,
        previous_period_start=period.start, previous_period_end=period.end,
        next_period_end=full.end if subscription.ending_at is None else min(full.end, subscription.ending_at),
        next_full_period_start=full.start, next_full_period_end=full.end)
    return Previewed(closing(subscription, usage, now, "plan_change"),
                     generate.upgrade_lines(ctx, change) if bills else [],
                     await _credited(session, organization_id, subscription, now, now, upgrade=True), now)


async def _termination(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                       usage: UsageSnapshot, terminated_at: datetime, now: datetime) -> Previewed:
    if terminated_at < now:
        raise ValidationFailed(terminated_at=["cannot_be_in_past"])
    period, _ = current_period(subscription)
    if terminated_at > period.end:
        raise ValidationFailed(terminated_at=["after_current_billing_period"])
    return Previewed(closing(subscription, usage, terminated_at, "termination"), [], await _credited(
        session, organization_id, subscription, terminated_at,
        unused.termination_unused_from(subscription, terminated_at), upgrade=False), terminated_at)


def _ends_in_this_period(subscription: Subscription, now: datetime) -> bool:
    ending = subscription.ending_at
    return ending is not None and now <= ending <= current_period(subscription)[0].end


async def _credited(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription, instant: datetime,
                    unused_from: datetime, *, upgrade: bool) -> int:
    """The credit part of the note the termination or upgrade would make (`credit_notes/unused.py`, nothing
    written), or of the customer credit it makes when that note cannot be numbered yet."""
    plan = await unused.planned(session, organization_id, subscription, instant, unused_from, upgrade=upgrade,
                                lock=False)
    if isinstance(plan, unused.Planned):
        return plan.credit
    if plan is unused.FALLBACK:
        found = await (credits.unused_fee(session, organization_id, subscription, instant, instant) if upgrade
                       else credits.termination_unused_fee(session, organization_id, subscription, instant))
        return found.amount_cents if found else 0
    return 0


async def _get(client: ServiceClient, service_name: str, organization_id: uuid.UUID, path: str,
               params: dict | None = None) -> dict | None:
    try:
        return await client.get(organization_id, path, params=params)
    except ServiceUnavailableError as exc:
        raise DependencyUnavailable(f"the {service_name} service did not answer, retry later") from exc


async def _subscription(runtime: InvoicingRuntime, organization_id: uuid.UUID, customer_external_id: str,
                        external_id: str) -> tuple[Subscription, UsageSnapshot]:
    found = await _get(runtime.subscriptions, "subscriptions", organization_id,
                       f"/api/v1/subscriptions/{quote(external_id, safe='')}")
    if found is None:
        raise NotFound("subscription")
    subscription = Subscription.model_validate(found["subscription"])
    if subscription.external_customer_id != customer_external_id:
        raise NotFound("subscription")
    if subscription.status != "active":
        raise ValidationFailed(subscriptions=["subscription_not_active"])
    usage = await _get(
        runtime.subscriptions, "subscriptions", organization_id,
        f"/api/v1/customers/{quote(customer_external_id, safe='')}/current_usage",
        params={"external_subscription_id": external_id, "apply_taxes": "false"})
    if usage is None:
        raise NotFound("subscription")
    return subscription, UsageSnapshot.model_validate(usage["customer_usage"])


async def _wallet_balance(runtime: InvoicingRuntime, organization_id: uuid.UUID, external_customer_id: str,
                          currency: str) -> int:
    found = await _get(runtime.wallets, "wallets", organization_id, "/api/v1/wallets",
                       params={"external_customer_id": external_customer_id, "per_page": 100})
    return sum(int(w["balance_cents"]) for w in (found or {}).get("wallets", [])
               if w["status"] == "active" and w["currency"] == currency)


async def _unit_credits_left(runtime: InvoicingRuntime, organization_id: uuid.UUID, external_customer_id: str,
                             metrics: set[str], at: datetime) -> dict[str, Decimal]:
    """What is left of the customer's live grants, per metric (only the metrics the projection names)."""
    left: dict[str, Decimal] = {}
    page = 1
    while True:
        found = await _get(runtime.wallets, "wallets", organization_id,
                           f"/api/v1/customers/{quote(external_customer_id, safe='')}/unit_credits",
                           params={"status": "active", "per_page": 100, "page": page}) or {}
        for grant in found.get("unit_credits", []):
            expires = grant.get("expiration_at")
            if grant["billable_metric_code"] in metrics and (expires is None or datetime.fromisoformat(expires) > at):
                left[grant["billable_metric_code"]] = left.get(grant["billable_metric_code"], Decimal(0)) + Decimal(
                    grant["remaining_units"])
        meta = found.get("meta") or {}
        if not meta.get("next_page"):
            return {metric: units for metric, units in left.items() if units > 0}
        page = meta["next_page"]


def _take(pool: dict[str, Decimal], wanted: dict[str, Decimal]) -> dict[str, Decimal]:
    """The units credited to one period (at most what is left in the pool, which they leave)."""
    credited = {}
    for metric, units in wanted.items():
        take = min(units, pool.get(metric, Decimal(0)))
        if take > 0:
            credited[metric] = take
            pool[metric] -= take
    return credited


async def preview_existing(session: AsyncSession, organization_id: uuid.UUID, data: PreviewSubscriptionsInput,
                           runtime: InvoicingRuntime, now: datetime) -> InvoiceObject:
    customer = await fresh.customer(session, runtime.subscriptions, organization_id, data.customer.external_id)
    if customer is None or customer.deleted_at is not None:
        raise NotFound("customer")

    lines: list[FeeLine] = []
    progressive = 0
    period: BillingPeriodEnded | None = None
    metrics = await unit_credits.live_metrics(session, organization_id, customer.id, now)
    pool = await _unit_credits_left(runtime, organization_id, customer.external_id, metrics, now) if metrics else {}
    wanted = data.subscriptions
    external_ids = list(dict.fromkeys(wanted.external_ids))
    context = "termination" if wanted.terminated_at is not None else "plan_change" if wanted.plan_code else None
    if context and len(external_ids) > 1:
        raise ValidationFailed(subscriptions=[f"only_one_subscription_allowed_for_{context}"])
    credited_cents = 0
    billed_at: datetime | None = None
    for external_id in external_ids:
        subscription, usage = await _subscription(runtime, organization_id, customer.external_id, external_id)
        if wanted.terminated_at is not None:
            previewed = await _termination(session, organization_id, subscription, usage, wanted.terminated_at, now)
        elif wanted.plan_code:
            previewed = await _plan_change(session, organization_id, subscription, usage, wanted.plan_code, now)
        elif len(external_ids) == 1 and _ends_in_this_period(subscription, now):
            # Lago: a subscription whose `ending_at` falls in its current period is previewed as terminated then
            # (the scheduler terminates it at that instant: its last invoice is a termination's)
            assert subscription.ending_at is not None
            previewed = await _termination(session, organization_id, subscription, usage, subscription.ending_at,
                                           now)
        else:
            opened = open_period(subscription, usage)
            previewed = Previewed(opened, [], 0, opened.period_end)
        event = previewed.closes
        billed_at = billed_at or previewed.billed_at
        credited_cents += previewed.credit_cents
        if period is not None and event.subscription.plan_amount_currency != period.subscription.plan_amount_currency:
            raise ValidationFailed(currency=["currencies_does_not_match"])
        period = period or event
        try:
            ctx = await generate.context_of(session, organization_id, subscription, subscription.lago_plan_version_id)
        except PlanVersionUnknown as exc:
            raise NotFound("plan") from exc
        # as the period's invoice (`generate.invoice_period`): the units its progressive-billing invoices credited
        # are priced as credited and not asked again; what is left to ask comes from the grants' pool
        prior = await generate.progressive_unit_credits(session, organization_id, ctx, event)
        credited = _take(pool, unit_credits.still_wanted(
            unit_credits.requested_units(ctx.version.body, event, set(pool)), prior)) if pool else {}
        priced = {metric: Decimal(units) for metric, units in unit_credits.merged(prior, credited).items()}
        own = generate.period_lines(ctx, event, priced or None)
        # the minimum commitment's true-up, as the period's invoice adds it (nothing of this preview is stored)
        own += await generate.period_commitment_lines(session, ctx, event, organization_id,
                                                      event.subscription.plan_amount_currency, NIL, own)
        for amount, taxes, payload in own + previewed.next_lines:
            lines.append(FeeLine(amount, taxes, plan_code=(payload.get("item") or {}).get("plan_code"),
                                 billable_metric_code=payload.get("billable_metric_code"), payload=payload))
        # the progressive-billing deduction the period's invoice will take (the same rule: finalized progressive
        # invoices of the period), capped as that invoice caps it (`billing.totals`: at most its own fees)
        if service.deducts_progressive_billing(event.reason, ctx.version.body, subscription.plan_overrides):
            progressive += min(await service.period_progressive_credit(
                session, organization_id, subscription.lago_id, event.period_start),
                sum(amount for amount, _, _ in own))
    assert period is not None and billed_at is not None
    currency = period.subscription.plan_amount_currency

    coupons: list[CouponState] = [service.coupon_state(c) for c in await repository.active_coupons(
        session, organization_id, customer.id, lock=False)]
    for n, inline in enumerate(data.coupons or []):
        coupons.append(CouponState(
            id=uuid.uuid5(NIL, f"{inline.code}:{n}"), coupon_type=inline.coupon_type or "fixed_amount",
            frequency="once", created_at=now, amount_cents=inline.amount_cents,
            amount_cents_remaining=inline.amount_cents, amount_currency=inline.amount_currency or currency,
            percentage_rate=inline.percentage_rate))
    customer_credits = await credits_repository.available(session, organization_id, customer.id, currency, NIL,
                                                          lock=False)
    computed = compute_invoice(lines, coupons, currency, now, progressive_billing_credit=progressive,
                               credit_notes=credited_cents + sum(c.balance_cents for c in customer_credits))
    t = computed.totals
    prepaid = 0
    if await wallets.has_active_wallet(session, organization_id, customer.id, currency):
        balance = await _wallet_balance(runtime, organization_id, customer.external_id, currency)
        prepaid = with_prepaid_credit(sub_total_including_taxes=t.sub_total_including_taxes_amount_cents,
                                      credit_notes=t.credit_notes_amount_cents,
                                      applied=balance).prepaid_credit_amount_cents

    issuing = local_date(billed_at, period.timezone)
    invoice = Invoice(
        id=NIL, organization_id=organization_id, customer_id=customer.id, external_customer_id=customer.external_id,
        subscription_id=period.subscription.lago_id if len(external_ids) == 1 else None,
        external_subscription_id=period.subscription.external_id if len(external_ids) == 1 else None,
        billing_reason="preview", invoice_type="subscription", status="draft", payment_status="pending",
        currency=currency, number=None, sequential_id=None, issuing_date=issuing, payment_due_date=issuing,
        net_payment_term=0, payment_overdue=False, version_number=4, period_start=period.period_start,
        period_end=period.period_end, fees_amount_cents=t.fees_amount_cents,
        progressive_billing_credit_amount_cents=t.progressive_billing_credit_amount_cents,
        coupons_amount_cents=t.coupons_amount_cents,
        sub_total_excluding_taxes_amount_cents=t.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=t.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=t.sub_total_including_taxes_amount_cents,
        credit_notes_amount_cents=t.credit_notes_amount_cents, prepaid_credit_amount_cents=prepaid,
        total_amount_cents=t.total_amount_cents - prepaid, metadata_items=[], error_details=[], source={},
        created_at=now, updated_at=now)
    fees = []
    for n, (line, result) in enumerate(zip(lines, computed.fees, strict=True)):
        payload = {key: value for key, value in line.payload.items() if key not in ("amount_cents",)}
        fees.append(Fee(
            id=uuid.uuid5(NIL, f"fee:{n}"), organization_id=organization_id, invoice_id=NIL,
            customer_id=customer.id, external_customer_id=customer.external_id, amount_currency=currency,
            amount_cents=line.amount_cents, precise_coupons_amount_cents=result.precise_coupons_amount_cents,
            taxes_amount_cents=result.taxes_amount_cents, taxes_precise_amount_cents=result.taxes_precise_amount_cents,
            taxes_rate=result.taxes_rate, applied_taxes=[{**entry, "lago_id": str(NIL)} for entry in
                                                         service.fee_tax_entries(result, currency)],
            invoiceable=True, payment_status="pending", created_at=now, updated_at=now,
            **{"grouped_by": {}, "unit_amount_cents": 0, "precise_unit_amount": Decimal(0), **payload}))
    applied = [InvoiceAppliedTax(
        id=NIL, organization_id=organization_id, invoice_id=NIL, tax_id=uuid.UUID(tax.tax.id) if tax.tax.id else None,
        tax_code=tax.tax.code, tax_name=tax.tax.name, tax_description=tax.tax.description, tax_rate=tax.tax.rate,
        fees_amount_cents=tax.base_cents, amount_cents=tax.amount_cents, amount_currency=currency, created_at=now)
        for tax in computed.taxes]
    return render_invoice(invoice, fees, applied, customer.body)
