"""Invoices of subscription periods: from `subscription.billing_period_ended` (and `subscription.started`
for fees paid in advance) to a draft, or straight to a finalized invoice when there is no grace period.

- The subscription fee: in arrears for the closed period; paid in advance, for the next period (on a
  natural period end) or the first period (on start, or on an upgrade from `subscription.plan_changed`,
  after the old plan's unused days were credited by a credit note: `credit_notes/unused.py`); prorated by days;
  trial days not billed. A termination of a plan paid in advance bills no subscription fee (that period was
  paid); its unused days are credited first by a credit note (`on_termination_credit_note`).
- Charges: the period's usage snapshot priced again (`billing.charges`).
- Taxes of each fee: its charge's, else the plan's, else the customer's, else the organization's.
- Exactly one invoice per (subscription, period start, reason): the unique index; a redelivered event or a
  second consumer inserts nothing and changes nothing.
- The billing check runs before commit; a violation parks the customer (its invoices wait in draft).
- Bad charge properties (the pricing engine refuses them) make a `failed` invoice (`invoice.generation_failed`),
  retried with `POST /invoices/{id}/retry` once the plan is fixed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.charges import ChargeFeeLine, charge_fees
from invoicing.billing.commitment import prorated_commitment_cents, true_up_cents
from invoicing.billing.coverage import coverage_violation
from invoicing.billing.fixed_charges import fixed_charge_fees
from invoicing.billing.late_usage import Billed, difference
from invoicing.billing.subscription_fee import (
    calendar_period,
    local_date,
    local_days,
    start_of_local_day,
    subscription_fee,
)
from invoicing.billing.taxes import TaxRate, precedence
from invoicing.credit_notes import unused
from invoicing.credits import service as credits
from invoicing.invoices import lifecycle, repository, service
from invoicing.invoices.errors import CustomerUnknown, PlanVersionUnknown
from invoicing.invoices.issuer import issuer_of
from invoicing.invoices.models import Fee, Invoice
from invoicing.late_usage import repository as late_usage
from invoicing.projections import repository as projections
from invoicing.projections.models import CustomerProjection, PlanVersionProjection
from invoicing.unit_credits import service as unit_credits
from invora.events.contracts.invoicing import BillingCheckFailed
from invora.events.contracts.subscriptions import (
    BillingPeriodEnded,
    PayInAdvanceUsage,
    PlanChange,
    Subscription,
    SubscriptionEvent,
    UsageSnapshot,
    UsageThresholdReached,
)
from invora.ids import uuid7
from invora.logging import get_logger
from invora.money import exponent
from invora.outbox import add_event
from invora.pricing import InvalidProperties, PricingError

log = get_logger(__name__)
GENERATION_ERRORS = (PricingError, InvalidProperties, ValueError, ArithmeticError)


def _rates(taxes: list[dict[str, Any]] | None) -> list[TaxRate]:
    return [TaxRate(code=t["code"], name=t["name"], rate=Decimal(str(t["rate"])), id=str(t["lago_id"]),
                    description=t.get("description")) for t in taxes or []]


class Context:
    """What computing one subscription invoice reads: customer, plan version, tax levels."""

    def __init__(self, customer: CustomerProjection, version: PlanVersionProjection, customer_taxes: list[TaxRate],
                 organization_taxes: list[TaxRate]) -> None:
        self.customer, self.version = customer, version
        self.plan_taxes = _rates(version.body.get("taxes"))
        self.customer_taxes, self.organization_taxes = customer_taxes, organization_taxes

    def taxes(self, own: list[TaxRate] | None = None) -> tuple[TaxRate, ...]:
        return precedence(own, self.plan_taxes, self.customer_taxes, self.organization_taxes)


async def context_of(session: AsyncSession, organization_id: uuid.UUID, subscription: Subscription,
                     version_id: uuid.UUID) -> Context:
    customer = await projections.customer(session, organization_id, subscription.lago_customer_id)
    if customer is None:
        raise CustomerUnknown(str(subscription.lago_customer_id))
    version = await projections.plan_version(session, organization_id, version_id)
    if version is None:
        raise PlanVersionUnknown(str(version_id), str(organization_id))
    return Context(customer, version, await projections.taxes_by_code(session, organization_id, customer.tax_codes),
                   await projections.organization_taxes(session, organization_id, customer))


def _subscription_line(ctx: Context, subscription: Subscription, *, full_start: datetime, full_end: datetime,
                       start: datetime, end: datetime, timezone: str, trial_ends_at: datetime | None,
                       in_advance: bool) -> tuple[int, list[TaxRate], dict[str, Any]]:
    fee = subscription_fee(subscription.plan_amount_cents, subscription.plan_amount_currency, full_start=full_start,
                           full_end=full_end, start=start, end=end, timezone=timezone, trial_ends_at=trial_ends_at)
    version = ctx.version
    payload = dict(
        fee_type="subscription", subscription_id=subscription.lago_id,
        external_subscription_id=subscription.external_id, units=Decimal(1), events_count=None,
        amount_cents=fee.amount_cents, precise_amount_cents=Decimal(fee.amount_cents),
        unit_amount_cents=fee.amount_cents,
        precise_unit_amount=Decimal(fee.amount_cents).scaleb(-exponent(subscription.plan_amount_currency)),
        invoice_display_name=version.invoice_display_name, pay_in_advance=in_advance, from_date=start, to_date=end,
        item={"type": "subscription", "code": version.plan_code, "name": version.plan_name,
              "invoice_display_name": version.invoice_display_name, "lago_item_id": str(subscription.lago_id),
              "item_type": "Subscription", "plan_code": version.plan_code},
        amount_details={"plan_amount_cents": subscription.plan_amount_cents, "days_billed": fee.days_billed,
                        "days_in_period": fee.days_in_period,
                        "billed_from": fee.from_datetime.isoformat()},
    )
    return fee.amount_cents, list(ctx.taxes()), payload


def _charge_payload(ctx: Context, subscription: Subscription, line: ChargeFeeLine, start: datetime,
                    end: datetime) -> dict[str, Any]:
    charge = line.charge
    units = line.units
    return dict(
        fee_type="charge", subscription_id=subscription.lago_id, external_subscription_id=subscription.external_id,
        charge_id=uuid.UUID(str(charge["lago_id"])), billable_metric_code=line.metric_code,
        charge_filter_id=uuid.UUID(line.charge_filter_id) if line.charge_filter_id else None,
        grouped_by=line.grouped_by, units=units, events_count=line.events_count, amount_cents=line.amount_cents,
        precise_amount_cents=line.precise_amount_cents, total_aggregated_units=line.total_aggregated_units,
        precise_unit_amount=(line.precise_amount_cents / units).scaleb(-exponent(subscription.plan_amount_currency))
        if units else Decimal(0),
        invoice_display_name=charge.get("invoice_display_name"), pay_in_advance=False, from_date=start, to_date=end,
        item={"type": "charge", "code": line.metric_code, "name": line.metric_name,
              "invoice_display_name": charge.get("invoice_display_name"),
              "filter_invoice_display_name": line.filter_display_name,
              "lago_item_id": str(charge.get("lago_billable_metric_id")), "item_type": "BillableMetric",
              "grouped_by": line.grouped_by, "plan_code": ctx.version.plan_code, "true_up": line.true_up},
        amount_details=line.amount_details, description="minimum spend true-up" if line.true_up else None,
    )


Line = tuple[int, list[TaxRate], dict[str, Any]]


def _fixed_charge_lines(ctx: Context, subscription: Subscription, overrides: dict[str, Any], *, in_advance: bool,
                        full_start: datetime, full_end: datetime, start: datetime, end: datetime,
                        timezone: str) -> list[Line]:
    """The fixed charges paid in advance (or in arrears) for [start, end) of the full period."""
    if not ctx.version.body.get("fixed_charges"):
        return []
    days_in_period = max(local_days(full_start, full_end, timezone), 1)
    days = min(local_days(start, end, timezone), days_in_period)
    currency = subscription.plan_amount_currency
    lines: list[Line] = []
    for line in fixed_charge_fees(ctx.version.body, overrides, currency, in_advance=in_advance, days_billed=days,
                                  days_in_period=days_in_period):
        fixed_charge = line.fixed_charge
        name = fixed_charge.get("invoice_display_name") or fixed_charge.get("add_on_code") or fixed_charge["code"]
        payload = dict(
            fee_type="fixed_charge", subscription_id=subscription.lago_id,
            external_subscription_id=subscription.external_id, fixed_charge_id=uuid.UUID(str(fixed_charge["lago_id"])),
            units=line.units, events_count=None, amount_cents=line.amount_cents,
            precise_amount_cents=line.precise_amount_cents,
            unit_amount_cents=int((Decimal(line.amount_cents) / line.units).to_integral_value()) if line.units else 0,
            precise_unit_amount=(line.precise_amount_cents / line.units).scaleb(-exponent(currency))
            if line.units else Decimal(0),
            invoice_display_name=fixed_charge.get("invoice_display_name"), pay_in_advance=in_advance,
            from_date=start, to_date=end,
            item={"type": "fixed_charge", "code": fixed_charge["code"], "name": name,
                  "invoice_display_name": fixed_charge.get("invoice_display_name"),
                  "lago_item_id": str(fixed_charge["lago_id"]), "item_type": "FixedCharge",
                  "plan_code": ctx.version.plan_code},
            amount_details=line.amount_details,
        )
        lines.append((line.amount_cents, list(ctx.taxes(_rates(fixed_charge.get("taxes")))), payload))
    return lines


def _next_full_period(subscription: Subscription, data: BillingPeriodEnded) -> tuple[datetime, datetime]:
    assert data.next_period_start is not None and data.next_period_end is not None
    full_start, full_end = data.next_period_start, data.next_period_end
    if subscription.ending_at is not None and subscription.ending_at <= data.next_period_end:
        if subscription.billing_time == "calendar":
            full_start, full_end = calendar_period(full_start, subscription.plan_interval, data.timezone)
        else:  # cut by its end: prorated over a period as long as the one that closed
            full_end = full_start + (data.full_period_end - data.full_period_start)
    return full_start, full_end


def period_lines(ctx: Context, data: BillingPeriodEnded,
                 credited: dict[str, Decimal] | None = None) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    """`credited`: units of a metric unit credits covered for this invoice (`invoicing.unit_credits`)."""
    subscription = data.subscription
    lines = []
    if not subscription.pay_in_advance:
        # an upgrade's own day is the new plan's (Lago: 100 € from 1 Jan, upgraded on 15 Jan = 14/31)
        end = start_of_local_day(data.period_end, data.timezone) if data.reason == "plan_change" else data.period_end
        lines.append(_subscription_line(ctx, subscription, full_start=data.full_period_start,
                                        full_end=data.full_period_end, start=data.period_start, end=end,
                                        timezone=data.timezone, trial_ends_at=data.in_trial_until, in_advance=False))
    elif data.reason == "period_end" and data.next_period_start and data.next_period_end:
        full_start, full_end = _next_full_period(subscription, data)
        lines.append(_subscription_line(ctx, subscription, full_start=full_start, full_end=full_end,
                                        start=data.next_period_start, end=data.next_period_end,
                                        timezone=data.timezone, trial_ends_at=subscription.trial_ends_at,
                                        in_advance=True))
    # fixed charges in arrears for the closed period; those paid in advance for the next one
    closed_end = start_of_local_day(data.period_end, data.timezone) if data.reason == "plan_change" \
        else data.period_end
    lines.extend(_fixed_charge_lines(ctx, subscription, data.plan_overrides, in_advance=False,
                                     full_start=data.full_period_start, full_end=data.full_period_end,
                                     start=data.period_start, end=closed_end, timezone=data.timezone))
    if data.reason == "period_end" and data.next_period_start and data.next_period_end:
        full_start, full_end = _next_full_period(subscription, data)
        lines.extend(_fixed_charge_lines(ctx, subscription, data.plan_overrides, in_advance=True,
                                         full_start=full_start, full_end=full_end, start=data.next_period_start,
                                         end=data.next_period_end, timezone=data.timezone))
    if data.usage is None:
        raise ValueError("the period's usage snapshot is missing (the plan version was unknown when it closed)")
    return lines + usage_lines(ctx, subscription, data.plan_overrides, data.usage, data.period_start,
                               data.period_end, credited)


def usage_lines(ctx: Context, subscription: Subscription, overrides: dict[str, Any], usage: UsageSnapshot,
                start: datetime, end: datetime,
                credited: dict[str, Decimal] | None = None) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    """The charge fees of a usage snapshot (charges in arrears only)."""
    lines = []
    own_taxes: dict[str, list[TaxRate]] = {}
    for line in charge_fees(ctx.version.body, overrides, usage, subscription.plan_amount_currency, credited):
        charge_id = str(line.charge["lago_id"])
        if charge_id not in own_taxes:
            own_taxes[charge_id] = _rates(line.charge.get("taxes"))
        lines.append((line.amount_cents, list(ctx.taxes(own_taxes[charge_id])),
                      _charge_payload(ctx, subscription, line, start, end)))
    return lines


def start_lines(ctx: Context, data: SubscriptionEvent) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    subscription = data.subscription
    start, end = subscription.started_at, subscription.current_billing_period_ending_at
    assert start is not None and end is not None
    if subscription.billing_time == "calendar":
        full_start, full_end = calendar_period(start, subscription.plan_interval, subscription.timezone)
    else:
        full_start, full_end = subscription.current_billing_period_started_at or start, end
    lines = [_subscription_line(ctx, subscription, full_start=full_start, full_end=full_end, start=start, end=end,
                                timezone=subscription.timezone, trial_ends_at=subscription.trial_ends_at,
                                in_advance=True)] if subscription.pay_in_advance else []
    return lines + _fixed_charge_lines(ctx, subscription, subscription.plan_overrides, in_advance=True,
                                       full_start=full_start, full_end=full_end, start=start, end=end,
                                       timezone=subscription.timezone)


def bills_at_start(subscription: Subscription, version: PlanVersionProjection | None) -> bool:
    """A period's start is invoiced when the plan's fee or one of its fixed charges is paid in advance."""
    return subscription.pay_in_advance or (version is not None and any(
        fixed_charge.get("pay_in_advance") for fixed_charge in version.body.get("fixed_charges") or []))


async def progressive_unit_credits(session: AsyncSession, organization_id: uuid.UUID, ctx: Context,
                                   data: BillingPeriodEnded) -> dict[str, Decimal]:
    """The units the period's progressive-billing invoices took from unit credits, per metric: the period's
    invoice prices them as credited and does not ask for them again (its preview neither)."""
    if not service.deducts_progressive_billing(data.reason, ctx.version.body, data.subscription.plan_overrides):
        return {}
    return await repository.progressive_unit_credits(session, organization_id, data.subscription.lago_id,
                                                     data.period_start)


async def invoice_period(session: AsyncSession, organization_id: uuid.UUID, data: BillingPeriodEnded,
                         now: datetime) -> Invoice | None:
    subscription = data.subscription
    if data.reason == "termination" and subscription.pay_in_advance:
        # first, so that the termination's own invoice consumes its credit (Lago's credit note, then the final
        # invoice); its advance fee's invoice not finalized yet: a customer credit, as before credit notes
        made = await unused.credit_unused(session, organization_id, subscription, data.period_end,
                                          unused.termination_unused_from(subscription, data.period_end), now,
                                          upgrade=False)
        if made is unused.FALLBACK:
            await credits.credit_termination(session, organization_id, subscription, data.period_end, now)
    if data.reason == "termination" and subscription.on_termination_invoice == "skip":
        return None
    ctx = await context_of(session, organization_id, subscription, data.lago_plan_version_id)
    source = {"kind": "period", "event": data.model_dump(mode="json")}
    revised = await late_usage.latest(session, organization_id, data.lago_billing_period_id)
    if revised is not None:  # late usage heard of before this close was handled (it was parked): use it
        source = {**source, "event": {**source["event"], "usage": revised.usage}, "usage_revision": revised.revision,
                  "usage_sequence": revised.sequence}
    # unit credits (seed 002): only a customer holding a live grant of one of the period's metrics is asked;
    # what the period's progressive-billing invoices had credited is priced as credited and not asked again
    wanted: dict[str, Decimal] = {}
    prior = await progressive_unit_credits(session, organization_id, ctx, data)
    if prior:
        source = {**source, "unit_credits_priced": unit_credits.merged(prior)}
    metrics = await unit_credits.live_metrics(session, organization_id, ctx.customer.id, now)
    if metrics:
        wanted = unit_credits.still_wanted(unit_credits.requested_units(
            ctx.version.body, BillingPeriodEnded.model_validate(source["event"]), metrics), prior)
    extra: dict[str, Any] = {}
    if wanted:
        async def offset_units(invoice: Invoice) -> None:  # after the claim: a duplicate never asks
            credited = await unit_credits.consume(organization_id, invoice.id, ctx.customer.external_id, wanted)
            invoice.source = {**invoice.source, "unit_credits": credited}
            if prior:
                invoice.source = {**invoice.source, "unit_credits_priced": unit_credits.merged(prior, credited)}

        extra = dict(invoice_id=unit_credits.invoice_id(organization_id, data), before_pricing=offset_units)
    invoice = await _create(session, organization_id, ctx, subscription, data.period_start, data.period_end,
                            data.reason, local_date(data.period_end, data.timezone), source, now,
                            billing_period_id=data.lago_billing_period_id, **extra)
    if data.reason in ("period_end", "termination"):
        from invoicing.invoices import advance  # it builds on this module
        await advance.regroup_paid(session, organization_id, ctx, subscription, data.period_start,
                                   data.period_end, now)
    return invoice


async def create_follow_up(session: AsyncSession, organization_id: uuid.UUID, ctx: Context, data: BillingPeriodEnded,
                           reason: str, billing_day: Any, source: dict[str, Any], now: datetime) -> Invoice | None:
    """The follow-up invoice of a final invoice's period (late usage, `invoicing.late_usage`): same subscription
    and period, its own reason (one per revision: the unique key makes a redelivery insert nothing)."""
    return await _create(session, organization_id, ctx, data.subscription, data.period_start, data.period_end,
                         reason, billing_day, source, now, billing_period_id=data.lago_billing_period_id)


async def invoice_start(session: AsyncSession, organization_id: uuid.UUID, data: SubscriptionEvent,
                        now: datetime) -> Invoice | None:
    subscription = data.subscription
    if data.reason == "upgrade":
        return None  # billed from `subscription.plan_changed`, after the old plan's unused days are credited
    if subscription.started_at is None or subscription.current_billing_period_ending_at is None:
        return None
    if not subscription.pay_in_advance and not bills_at_start(subscription, await projections.plan_version(
            session, organization_id, subscription.lago_plan_version_id)):
        return None
    ctx = await context_of(session, organization_id, subscription, subscription.lago_plan_version_id)
    source = {"kind": "start", "event": data.model_dump(mode="json")}
    start = subscription.current_billing_period_started_at or subscription.started_at
    return await _create(session, organization_id, ctx, subscription, start,
                         subscription.current_billing_period_ending_at, "subscription_start",
                         local_date(subscription.started_at, subscription.timezone), source, now)


def upgrade_lines(ctx: Context, data: PlanChange) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    """The new plan's first fee paid in advance, from the upgrade instant to its period's end, prorated over
    the schedule's full period (the subscriptions service sends it: anniversary periods keep the old anchor)."""
    subscription = data.next_subscription
    start = data.effective_at
    end = data.next_period_end or subscription.current_billing_period_ending_at
    assert end is not None
    full_start, full_end = data.next_full_period_start, data.next_full_period_end
    if full_start is None or full_end is None:
        if subscription.billing_time == "calendar":
            full_start, full_end = calendar_period(start, subscription.plan_interval, subscription.timezone)
        else:
            full_start, full_end = subscription.current_billing_period_started_at or start, end
    lines = [_subscription_line(ctx, subscription, full_start=full_start, full_end=full_end, start=start, end=end,
                                timezone=subscription.timezone, trial_ends_at=subscription.trial_ends_at,
                                in_advance=True)] if subscription.pay_in_advance else []
    return lines + _fixed_charge_lines(ctx, subscription, subscription.plan_overrides, in_advance=True,
                                       full_start=full_start, full_end=full_end, start=start, end=end,
                                       timezone=subscription.timezone)


def lines_of_source(ctx: Context, source: dict[str, Any]) -> list[tuple[int, list[TaxRate], dict[str, Any]]]:
    kind = source["kind"]
    if kind == "period":
        return period_lines(ctx, BillingPeriodEnded.model_validate(source["event"]), unit_credits.priced_of(source))
    if kind == "usage_revision":  # a follow-up of a final invoice: late usage's difference only
        event = BillingPeriodEnded.model_validate(source["event"])
        billed = {key: Billed.load(value) for key, value in source["billed"].items()}
        lines = period_lines(ctx, event, unit_credits.priced_of(source))
        return difference(lines, billed, exponent(event.subscription.plan_amount_currency)).lines
    if kind == "upgrade":
        return upgrade_lines(ctx, PlanChange.model_validate(source["event"]))
    if kind in ("advance", "progressive"):
        from invoicing.invoices import advance, progressive  # they build on this module
        if kind == "advance":  # with the unit credits recorded at its creation, never asked again
            prior = source.get("unit_credits_prior")
            credited = sum(unit_credits.credited_of(source).values(), Decimal(0))
            return [advance.fee_line(ctx, PayInAdvanceUsage.model_validate(source["event"]), credited,
                                     None if prior is None else Decimal(prior))]
        return progressive.lines(ctx, UsageThresholdReached.model_validate(source["event"]),
                                 unit_credits.priced_of(source))
    return start_lines(ctx, SubscriptionEvent.model_validate(source["event"]))


def _source_subscription(source: dict[str, Any]) -> tuple[Subscription, uuid.UUID]:
    event = source["event"]
    subscription = Subscription.model_validate(event["next_subscription" if source["kind"] == "upgrade"
                                                     else "subscription"])
    return subscription, uuid.UUID(event.get("lago_plan_version_id") or str(subscription.lago_plan_version_id))


async def commitment_lines(session: AsyncSession, ctx: Context, invoice: Invoice, source: dict[str, Any],
                           lines: list[Line]) -> list[Line]:
    """The minimum commitment's true-up of a closed period (Lago's), on that period's invoice."""
    if source.get("kind") != "period":
        return []
    return await period_commitment_lines(session, ctx, BillingPeriodEnded.model_validate(source["event"]),
                                         invoice.organization_id, invoice.currency, invoice.id, lines)


async def period_commitment_lines(session: AsyncSession, ctx: Context, data: BillingPeriodEnded,
                                  organization_id: uuid.UUID, currency: str, invoice_id: uuid.UUID,
                                  lines: list[Line]) -> list[Line]:
    """The true-up of `data`'s period: the plan's commitment (or the subscription's override of its amount and
    name), prorated by the days the subscription held in the period, less the period's fees (in arrears in
    `lines`; the subscription fee, fixed charges and charges paid in advance for this period on other invoices
    than `invoice_id`). Shared by the period's invoice and the preview of existing subscriptions."""
    commitment = dict(ctx.version.body.get("minimum_commitment") or {})
    override = data.plan_overrides.get("minimum_commitment") or {}
    if override.get("amount_cents") is not None:
        commitment = {**commitment, **{k: v for k, v in override.items() if v is not None and k != "tax_codes"}}
    amount = int(commitment.get("amount_cents") or 0)
    if amount <= 0:
        return []
    end = start_of_local_day(data.period_end, data.timezone) if data.reason == "plan_change" else data.period_end
    days_in_period = max(local_days(data.full_period_start, data.full_period_end, data.timezone), 1)
    days = min(local_days(data.period_start, end, data.timezone), days_in_period)
    committed = prorated_commitment_cents(amount, days, days_in_period)
    here = sum(line_amount for line_amount, _, payload in lines if not payload.get("pay_in_advance")
               and payload["fee_type"] in ("subscription", "charge", "fixed_charge"))
    before = await repository.paid_in_advance_for(session, organization_id, data.subscription.lago_id,
                                                  data.period_start, data.period_end, invoice_id)
    true_up = true_up_cents(committed, here + before)
    if true_up <= 0:
        return []
    subscription = data.subscription
    name = commitment.get("invoice_display_name") or "Minimum commitment"
    payload = dict(
        fee_type="commitment", subscription_id=subscription.lago_id, external_subscription_id=subscription.external_id,
        units=Decimal(1), events_count=None, amount_cents=true_up, precise_amount_cents=Decimal(true_up),
        unit_amount_cents=true_up, precise_unit_amount=Decimal(true_up).scaleb(-exponent(currency)),
        invoice_display_name=commitment.get("invoice_display_name"), pay_in_advance=False,
        from_date=data.period_start, to_date=data.period_end,
        item={"type": "commitment", "code": "minimum_commitment", "name": name,
              "invoice_display_name": commitment.get("invoice_display_name"),
              "lago_item_id": commitment.get("lago_id"), "item_type": "Commitment",
              "plan_code": ctx.version.plan_code},
        amount_details={"commitment_amount_cents": amount, "prorated_commitment_amount_cents": committed,
                        "days": days, "days_in_period": days_in_period, "fees_amount_cents": here + before},
        description="minimum commitment true-up",
    )
    return [(true_up, list(ctx.taxes(_rates(commitment.get("taxes")))), payload)]


async def invoice_plan_change(session: AsyncSession, organization_id: uuid.UUID, data: PlanChange,
                              now: datetime) -> Invoice | None:
    """An upgrade: the unused part of the old plan's fee paid in advance becomes a customer credit, then the
    new plan's first period is invoiced (paid in advance), so that invoice consumes the credit first. The old
    subscription's last period was invoiced from its close (`reason = plan_change`: charges up to the upgrade,
    a fee in arrears prorated). A downgrade changes nothing now: it takes effect at the period's end, where
    the old plan's period closes without a next one and the new subscription's start bills its fee."""
    if data.direction != "upgrade":
        return None
    made = await unused.credit_unused(session, organization_id, data.previous_subscription, data.effective_at,
                                      data.effective_at, now, upgrade=True)
    if made is unused.FALLBACK:
        await credits.credit_upgrade(session, organization_id, data, now)
    subscription = data.next_subscription
    if not subscription.pay_in_advance and not bills_at_start(subscription, await projections.plan_version(
            session, organization_id, subscription.lago_plan_version_id)):
        return None  # the credit waits for the customer's next invoice
    ctx = await context_of(session, organization_id, subscription, subscription.lago_plan_version_id)
    source = {"kind": "upgrade", "event": data.model_dump(mode="json")}
    start = subscription.current_billing_period_started_at or subscription.started_at or data.effective_at
    end = subscription.current_billing_period_ending_at or data.next_period_end
    assert end is not None
    return await _create(session, organization_id, ctx, subscription, start, end, "subscription_start",
                         local_date(data.effective_at, subscription.timezone), source, now)


async def _create(session: AsyncSession, organization_id: uuid.UUID, ctx: Context, subscription: Subscription,
                  period_start: datetime, period_end: datetime, reason: str, billing_day: Any,
                  source: dict[str, Any], now: datetime, billing_period_id: uuid.UUID | None = None,
                  *, invoice_type: str = "subscription", source_key: str | None = None,
                  grace_applies: bool = True, invoice_id: uuid.UUID | None = None,
                  before_pricing: Callable[[Invoice], Awaitable[None]] | None = None) -> Invoice | None:
    customer = ctx.customer
    settings = await issuer_of(session, organization_id, customer)
    grace = customer.invoice_grace_period if customer.invoice_grace_period is not None \
        else settings.invoice_grace_period
    net_term = customer.net_payment_term if customer.net_payment_term is not None else settings.net_payment_term
    if not grace_applies:
        grace = 0
    if service.deducts_progressive_billing(reason, ctx.version.body, subscription.plan_overrides):
        # progressive billing may have invoiced part of this period: `apply_amounts` looks for it (only then:
        # one statement fewer for every other invoice)
        source = {**source, "progressive_billing": True}
    issuing_date = billing_day + timedelta(days=grace)
    values = dict(
        id=invoice_id or uuid7(), organization_id=organization_id, customer_id=customer.id,
        external_customer_id=customer.external_id, subscription_id=subscription.lago_id,
        external_subscription_id=subscription.external_id, billing_period_id=billing_period_id,
        billing_reason=reason, period_start=period_start, period_end=period_end, invoice_type=invoice_type,
        status="draft", currency=subscription.plan_amount_currency, issuing_date=issuing_date,
        payment_due_date=issuing_date + timedelta(days=net_term), net_payment_term=net_term,
        finalize_at=now + timedelta(days=grace), source=source, created_at=now, updated_at=now,
        source_key=source_key,
    )
    invoice = await (repository.claim_keyed if source_key else repository.claim)(session, values)
    if invoice is None:
        log.info("invoice_already_exists", subscription_id=str(subscription.lago_id), period_start=str(period_start),
                 reason=reason)
        return None
    if before_pricing is not None:
        await before_pricing(invoice)
        source = invoice.source
    try:
        lines = lines_of_source(ctx, source)
        lines += await commitment_lines(session, ctx, invoice, source, lines)
    except GENERATION_ERRORS as exc:
        invoice.finalize_at = None
        await lifecycle.fail(session, invoice, repr(exc), now)
        return invoice
    fees = await write_fees(session, invoice, lines, now, compute=False)
    if await _billing_check(session, invoice, subscription, fees):
        invoice.finalize_at = None
    if invoice.finalize_at is not None and invoice.finalize_at <= now:
        await lifecycle.finalize(session, invoice, now, fees=fees)  # computes the amounts, coupons consumed
    else:
        await service.apply_amounts(session, invoice, fees, now, consume_coupons=False)
        await service.publish(session, invoice, "invoice.drafted", fees=fees)
    return invoice


def _fee_defaults() -> dict[str, Any]:
    """The fee columns' server defaults, given in Python: a row carrying every value needs no RETURNING, so
    the ORM inserts a batch's fees in one statement at the flush instead of one INSERT … RETURNING each.
    (A column added with a server default and missing here costs that saving, not correctness.)"""
    return {"grouped_by": {}, "unit_amount_cents": 0, "precise_unit_amount": Decimal(0),
            "precise_coupons_amount_cents": Decimal(0), "taxes_amount_cents": 0,
            "taxes_precise_amount_cents": Decimal(0), "taxes_rate": Decimal(0), "amount_details": {},
            "pay_in_advance": False, "invoiceable": True, "payment_status": "pending"}


async def write_fees(session: AsyncSession, invoice: Invoice, lines: list[tuple[int, list[TaxRate], dict[str, Any]]],
                     now: datetime, *, compute: bool = True) -> list[Fee]:
    fees = []
    for _amount, taxes, payload in lines:
        fee = Fee(id=uuid7(), organization_id=invoice.organization_id, invoice_id=invoice.id,
                  customer_id=invoice.customer_id, external_customer_id=invoice.external_customer_id,
                  amount_currency=invoice.currency, created_at=now, updated_at=now,
                  applied_taxes=[{"tax_code": t.code, "tax_name": t.name, "tax_rate": str(t.rate), "lago_tax_id": t.id,
                                  "tax_description": t.description} for t in taxes], **{**_fee_defaults(), **payload})
        session.add(fee)
        fees.append(fee)
    repository.remember_billed(session, fees)  # the batch's later billing checks see them
    # without `compute` the caller computes the amounts next: the fees are inserted once, amounts included,
    # at the next flush
    if compute:
        await session.flush()
        await service.apply_amounts(session, invoice, fees, now, consume_coupons=False)
    return fees


async def _billing_check(session: AsyncSession, invoice: Invoice, subscription: Subscription,
                         fees: list[Fee]) -> bool:
    """True when the customer is parked (this invoice broke the check, or an earlier one did)."""
    billed = [(f.from_date, f.to_date) for f in fees if f.fee_type == "subscription" and f.from_date and f.to_date]
    if billed:
        start, end = billed[0]
        others = await repository.billed_subscription_periods(session, invoice.organization_id,
                                                              subscription.lago_id, invoice.id)
        kind = coverage_violation(others, start, end, subscription.started_at)
        if kind is not None:
            violation = dict(id=uuid7(), organization_id=invoice.organization_id, customer_id=invoice.customer_id,
                             subscription_id=subscription.lago_id, kind=kind, period_start=start, period_end=end,
                             detail={"lago_invoice_id": str(invoice.id), "billed": [[s.isoformat(), e.isoformat()]
                                                                                   for s, e in others]})
            violation_id = await repository.record_violation(session, violation)
            log.error("billing_check_failed", kind=kind, subscription_id=str(subscription.lago_id),
                      period_start=start.isoformat())
            await add_event(session, type="invoice.billing_check_failed", organization_id=invoice.organization_id,
                            aggregate_type="invoice", aggregate_id=invoice.id, data=BillingCheckFailed(
                                lago_violation_id=violation_id, lago_customer_id=invoice.customer_id,
                                lago_subscription_id=subscription.lago_id, kind=kind, period_start=start,
                                period_end=end, detail=violation["detail"]))
            return True
    return await repository.parked(session, invoice.organization_id, invoice.customer_id)


async def recompute(session: AsyncSession, invoice: Invoice, now: datetime) -> None:
    """A draft (refresh) or failed (retry) invoice computed again from what it was built from, with the
    customer, plan version and taxes as known now."""
    source = invoice.source
    subscription, version_id = _source_subscription(source)
    ctx = await context_of(session, invoice.organization_id, subscription, version_id)
    await repository.delete_fees(session, invoice.id)
    lines = lines_of_source(ctx, source)
    lines += await commitment_lines(session, ctx, invoice, source, lines)
    invoice.error_details = []
    await write_fees(session, invoice, lines, now)
