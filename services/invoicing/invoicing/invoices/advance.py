"""Charges paid in advance: a fee the moment a usage event reaches one (`subscription.pay_in_advance_usage`).

The subscriptions service fixes the units of the charge's slot before and after the event; this prices them
with the pinned plan version and the subscription's overrides of the charge (`invora.pricing.price_increment`):
the fee is the difference. Then, as Lago:

- `invoiceable: true`: an invoice of its own for that fee (`invoice_type: subscription`, billing reason
  `pay_in_advance_charge`), coupons and taxes applied, finalized at once (no grace period: it is billed when
  the usage happens); its idempotency key is (subscription, charge, event transaction id);
- `invoiceable: false`: the fee alone, no invoice (`lago_invoice_id: null`), taxes computed on it, and the
  `fee.created` webhook; its `payment_status` is set with `PUT /fees/{id}`. With `regroup_paid_fees: invoice`,
  the period's close gathers the paid ones (`succeeded`) into one `advance_charges` invoice (`regroup_paid`):
  finalized and numbered, `payment_status: succeeded`, no coupons, no credits (the fees are paid).

Unit credits (seed 002): a customer holding a live grant of the charge's metric has the event's units offset
first (asked of wallets once, after the claim, under `unit_credits.advance_invoice_id`), the slot priced from
its position less what its earlier fees' credits covered (docs/invoicing.md, "Unit credits").

Exactly one fee per (subscription, charge, event transaction id): a unique index; a redelivered event inserts
nothing and publishes nothing. The period's invoice never bills these charges again (`billing.charges`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.charges import offsettable, plain, terms
from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.subscription_fee import local_date
from invoicing.billing.taxes import TaxRate
from invoicing.invoices import generate, lifecycle, repository, service
from invoicing.invoices.lifecycle import CustomerParked
from invoicing.invoices.models import Fee, Invoice
from invoicing.invoices.render import render_fee
from invoicing.unit_credits import service as unit_credits
from invora.events.contracts.invoicing import FeeEvent
from invora.events.contracts.subscriptions import PayInAdvanceUsage, Subscription
from invora.ids import uuid7
from invora.logging import get_logger
from invora.money import exponent
from invora.outbox import add_event
from invora.pricing import price_increment

log = get_logger(__name__)


def charge_of(ctx: generate.Context, charge_id: uuid.UUID) -> dict[str, Any] | None:
    return next((c for c in ctx.version.body.get("charges") or [] if str(c["lago_id"]) == str(charge_id)), None)


def fee_line(ctx: generate.Context, data: PayInAdvanceUsage, credited: Decimal = Decimal(0),
             prior: Decimal | None = None) -> tuple[int, list[TaxRate], dict[str, Any]]:
    """The event's fee: its amount, its tax rates and the columns to store. `prior` (the customer was asked for
    unit credits): the units they covered on the slot's earlier fees this period, so the slot is priced from
    `units_before − prior` to `units_after − prior − credited` (`credited`: what they cover of this event)."""
    subscription = data.subscription
    charge = charge_of(ctx, data.lago_charge_id)
    if charge is None:
        raise ValueError(f"charge {data.lago_charge_id} is not in plan version {data.lago_plan_version_id}")
    properties, filters = terms(charge, subscription.plan_overrides or {})
    filter_body = None
    if data.lago_charge_filter_id is not None:
        filter_body = next((f for f in filters if str(f.get("lago_id")) == str(data.lago_charge_filter_id)), None)
        if filter_body is not None and filter_body.get("properties"):
            properties = filter_body["properties"]
    currency = subscription.plan_amount_currency
    before, after = Decimal(data.units_before), Decimal(data.units_after)
    details: dict[str, Any] = {}
    if prior is not None:
        details["unit_credits"] = {"usage_units": plain(after - before), "credited_units": plain(credited)}
        before = max(before - prior, Decimal(0))
        after = max(after - prior - credited, before)
    increment = price_increment(charge["charge_model"], properties, currency, before=before, after=after)
    precise_cents = increment.precise_amount.scaleb(exponent(currency))
    units = increment.units
    invoiceable = charge.get("invoiceable") is not False
    payload = dict(
        fee_type="charge", subscription_id=subscription.lago_id, external_subscription_id=subscription.external_id,
        charge_id=data.lago_charge_id, charge_filter_id=data.lago_charge_filter_id,
        billable_metric_code=charge.get("billable_metric_code"), grouped_by=dict(data.grouped_by), units=units,
        events_count=1, amount_cents=increment.amount_cents, precise_amount_cents=precise_cents,
        precise_unit_amount=(increment.precise_amount / units) if units else Decimal(0),
        invoice_display_name=charge.get("invoice_display_name"), pay_in_advance=True, invoiceable=invoiceable,
        from_date=data.period_start, to_date=data.period_end, event_transaction_id=data.transaction_id,
        item={"type": "charge", "code": charge.get("billable_metric_code"), "name": charge.get("billable_metric_code"),
              "invoice_display_name": charge.get("invoice_display_name"),
              "filter_invoice_display_name": None if filter_body is None else filter_body.get("invoice_display_name"),
              "filters": None if filter_body is None else filter_body.get("values"),
              "lago_item_id": str(charge.get("lago_billable_metric_id")), "item_type": "BillableMetric",
              "grouped_by": dict(data.grouped_by), "plan_code": ctx.version.plan_code},
        amount_details={"units_before": data.units_before, "units_after": data.units_after,
                        "lago_event_id": str(data.lago_event_id), **details},
    )
    return increment.amount_cents, list(ctx.taxes(generate._rates(charge.get("taxes")))), payload


def regrouped_charge_ids(ctx: generate.Context) -> list[uuid.UUID]:
    return [uuid.UUID(str(c["lago_id"])) for c in ctx.version.body.get("charges") or []
            if c.get("pay_in_advance") and c.get("invoiceable") is False and c.get("regroup_paid_fees") == "invoice"]


async def regroup_paid(session: AsyncSession, organization_id: uuid.UUID, ctx: generate.Context,
                       subscription: Subscription, period_start: datetime, period_end: datetime,
                       now: datetime) -> Invoice | None:
    """Lago's `regroup_paid_fees: invoice`: at a period's close, the paid fees of such charges that no invoice
    carries yet become one `advance_charges` invoice (one per (subscription, period): its `source_key`)."""
    charge_ids = regrouped_charge_ids(ctx)
    if not charge_ids:
        return None  # no statement for plans without such a charge
    fees = await repository.paid_fees_to_regroup(session, organization_id, subscription.lago_id, charge_ids,
                                                 period_end)
    if not fees:
        return None
    settings = await repository.settings_of(session, organization_id)
    customer = ctx.customer
    net_term = customer.net_payment_term if customer.net_payment_term is not None else settings.net_payment_term
    issuing = local_date(period_end, subscription.timezone)
    invoice = await repository.claim_keyed(session, dict(
        id=uuid7(), organization_id=organization_id, customer_id=customer.id,
        external_customer_id=customer.external_id, subscription_id=subscription.lago_id,
        external_subscription_id=subscription.external_id, billing_reason="advance_charges",
        period_start=period_start, period_end=period_end, invoice_type="advance_charges", status="draft",
        payment_status="succeeded", currency=subscription.plan_amount_currency, issuing_date=issuing,
        payment_due_date=issuing + timedelta(days=net_term), net_payment_term=net_term, finalize_at=now,
        source={"kind": "regroup", "lago_fee_ids": [str(f.id) for f in fees]}, created_at=now, updated_at=now,
        source_key=f"regroup:{subscription.lago_id}:{period_start.isoformat()}"))
    if invoice is None:
        return None
    for fee in fees:
        fee.invoice_id, fee.updated_at = invoice.id, now
    await session.flush()
    try:
        await lifecycle.finalize(session, invoice, now, fees=fees)
    except CustomerParked:  # stays a draft; the scheduler finalizes it once the customer is released
        await service.apply_amounts(session, invoice, fees, now, consume_coupons=False)
    return invoice


async def on_usage(session: AsyncSession, organization_id: uuid.UUID, data: PayInAdvanceUsage,
                   now: datetime) -> Fee | Invoice | None:
    """The fee (and its invoice when the charge is invoiceable) of one event; None when it exists already."""
    subscription = data.subscription
    ctx = await generate.context_of(session, organization_id, subscription, data.lago_plan_version_id)
    charge = charge_of(ctx, data.lago_charge_id)
    if charge is None or not charge.get("pay_in_advance"):
        log.warning("pay_in_advance_charge_unknown", charge_id=str(data.lago_charge_id))
        return None
    # unit credits (seed 002): only a customer holding a live grant of the charge's metric is asked
    metric = charge.get("billable_metric_code")
    usage_units = Decimal(data.units_after) - Decimal(data.units_before)
    asked = bool(metric) and usage_units > 0 and offsettable(charge) and metric in await unit_credits.live_metrics(
        session, organization_id, ctx.customer.id, now)
    prior = await repository.credited_in_slot(
        session, organization_id, subscription.lago_id, data.lago_charge_id, data.lago_charge_filter_id,
        dict(data.grouped_by), data.period_start) if asked else None
    known_as = unit_credits.advance_invoice_id(organization_id, subscription.lago_id, data.lago_charge_id,
                                               data.transaction_id)
    if charge.get("invoiceable") is not False:
        source: dict[str, Any] = {"kind": "advance", "event": data.model_dump(mode="json")}
        key = f"advance:{subscription.lago_id}:{data.lago_charge_id}:{data.transaction_id}"
        extra: dict[str, Any] = {}
        if asked and prior is not None:
            source["unit_credits_prior"] = plain(prior)

            async def offset_units(invoice: Invoice) -> None:  # after the claim: a duplicate never asks
                credited = await unit_credits.consume(organization_id, invoice.id, ctx.customer.external_id,
                                                      {metric: usage_units})
                invoice.source = {**invoice.source, "unit_credits": credited}

            extra = dict(invoice_id=known_as, before_pricing=offset_units)
        return await generate._create(session, organization_id, ctx, subscription, data.period_start,
                                      data.period_end, "pay_in_advance_charge",
                                      local_date(data.timestamp, subscription.timezone), source, now,
                                      source_key=key, grace_applies=False, **extra)
    amount, taxes, payload = fee_line(ctx, data, prior=prior)
    fee_id = await repository.claim_advance_fee(session, dict(
        id=known_as if asked else uuid7(), organization_id=organization_id, invoice_id=None,
        customer_id=ctx.customer.id, external_customer_id=ctx.customer.external_id,
        amount_currency=subscription.plan_amount_currency, created_at=now, updated_at=now, applied_taxes=[],
        **payload))
    if fee_id is None:
        log.info("pay_in_advance_fee_exists", transaction_id=data.transaction_id)
        return None
    if asked:  # after the claim (a duplicate never asks); wallets knows the fee by its id (no invoice)
        credited = Decimal((await unit_credits.consume(organization_id, fee_id, ctx.customer.external_id,
                                                       {metric: usage_units})).get(metric, "0"))
        amount, taxes, payload = fee_line(ctx, data, credited, prior)
    fee = await repository.get_fee(session, organization_id, fee_id)
    assert fee is not None
    for column in ("units", "amount_cents", "precise_amount_cents", "precise_unit_amount", "amount_details"):
        setattr(fee, column, payload[column])
    computed = compute_invoice([FeeLine(amount_cents=amount, taxes=taxes)], [], fee.amount_currency, now)
    result = computed.fees[0]
    fee.taxes_precise_amount_cents = result.taxes_precise_amount_cents
    fee.taxes_amount_cents = result.taxes_amount_cents
    fee.taxes_rate = result.taxes_rate
    fee.applied_taxes = service.fee_tax_entries(result, fee.amount_currency)
    await session.flush()
    await add_event(session, type="fee.created", organization_id=organization_id, aggregate_type="fee",
                    aggregate_id=fee.id, data=FeeEvent(fee=render_fee(fee)))
    return fee
