"""What every invoice path shares: amounts from fee rows, coupon consumption, events, reads for the API.

`apply_amounts` is the one place an invoice's coupons, taxes, customer credits and totals are computed and
written (`invoicing.billing.compute`): at creation (coupons and credits previewed, not consumed), at
finalization (coupon and credit rows locked and consumed) and on refresh.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.applied_coupons.models import AppliedCoupon
from invoicing.billing.compute import ComputedInvoice, FeeLine, compute_invoice
from invoicing.billing.coupons import CouponState
from invoicing.billing.taxes import TaxRate
from invoicing.credits import service as credits
from invoicing.documents import repository as documents
from invoicing.invoices import repository
from invoicing.invoices.errors import InvoiceNotFound
from invoicing.invoices.models import Fee, Invoice
from invoicing.invoices.render import render_invoice
from invoicing.projections import repository as projections
from invora.documents import links
from invora.events.contracts.invoicing import Invoice as InvoiceObject
from invora.events.contracts.invoicing import InvoiceEvent
from invora.events.contracts.subscriptions import Customer
from invora.ids import uuid7
from invora.outbox import PendingEvent, add_events


def coupon_state(coupon: AppliedCoupon) -> CouponState:
    return CouponState(
        id=coupon.id, coupon_type=coupon.coupon_type, frequency=coupon.frequency, created_at=coupon.created_at,
        amount_cents=coupon.amount_cents, amount_cents_remaining=coupon.amount_cents_remaining,
        amount_currency=coupon.amount_currency,
        percentage_rate=None if coupon.percentage_rate is None else Decimal(coupon.percentage_rate),
        frequency_duration_remaining=coupon.frequency_duration_remaining, expiration_at=coupon.expiration_at,
        plan_codes=tuple(coupon.plan_codes), billable_metric_codes=tuple(coupon.billable_metric_codes))


def line_of(fee: Fee) -> FeeLine:
    taxes = [TaxRate(code=t["tax_code"], name=t["tax_name"], rate=Decimal(str(t["tax_rate"])), id=t.get("lago_tax_id"),
                     description=t.get("tax_description")) for t in fee.applied_taxes]
    return FeeLine(amount_cents=fee.amount_cents, taxes=taxes, plan_code=fee.item.get("plan_code"),
                   billable_metric_code=fee.billable_metric_code, payload={"id": fee.id})


def fee_tax_entries(computed_fee: Any, currency: str) -> list[dict[str, Any]]:
    return [{"lago_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tax.code}")), "lago_tax_id": tax.id,
             "tax_name": tax.name, "tax_code": tax.code, "tax_rate": str(tax.rate), "tax_description": tax.description,
             "amount_cents": int(amount.quantize(Decimal(1), "ROUND_HALF_UP")), "precise_amount_cents": str(amount),
             "amount_currency": currency} for tax, amount in computed_fee.applied_taxes]


# what a progressive-billing deduction applies to: the period's invoice and the period's progressive invoices
DEDUCTING_REASONS = ("period_end", "termination", "plan_change", "progressive_billing")


def deducts_progressive_billing(reason: str, plan: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> bool:
    """Whether an invoice of this reason, of a subscription on this plan version (its body) with these overrides,
    may follow progressive-billing invoices of its period (the plan or the subscription has usage thresholds)."""
    return reason in DEDUCTING_REASONS and bool(plan.get("usage_thresholds")
                                                or (overrides or {}).get("usage_thresholds"))


async def period_progressive_credit(session: AsyncSession, organization_id: uuid.UUID, subscription_id: uuid.UUID,
                                    period_start: datetime, *, exclude: uuid.UUID | None = None,
                                    created_before: datetime | None = None) -> int:
    """What the period's finalized progressive-billing invoices billed for usage (`exclude` aside, those created
    up to `created_before`): deducted right after the fees, before coupons (Lago). Drafts do not count (Lago
    counts finalized invoices only). The one rule for a period's invoice and for its preview
    (`preview_existing`)."""
    return await repository.progressive_billed(session, organization_id, subscription_id, period_start,
                                               exclude=exclude, created_before=created_before)


async def progressive_billing_credit(session: AsyncSession, invoice: Invoice) -> int:
    """The deduction of one invoice: what the period's progressive-billing invoices before it (other than
    itself) billed. Only invoices of subscriptions with usage thresholds (when created) look: `generate._create`
    marks them (`deducts_progressive_billing`)."""
    if invoice.billing_reason not in DEDUCTING_REASONS or invoice.subscription_id is None \
            or not invoice.source.get("progressive_billing"):
        return 0
    return await period_progressive_credit(session, invoice.organization_id, invoice.subscription_id,
                                           invoice.period_start, exclude=invoice.id,
                                           created_before=invoice.created_at)


async def apply_amounts(session: AsyncSession, invoice: Invoice, fees: Sequence[Fee], now: datetime, *,
                        consume_coupons: bool) -> ComputedInvoice:
    progressive = await progressive_billing_credit(session, invoice)
    # fees already paid (regrouped), or credits bought (Lago's `credit` invoice): no coupon, no credit
    paid = invoice.invoice_type in ("advance_charges", "credit")
    coupons = [] if paid else await repository.active_coupons(session, invoice.organization_id, invoice.customer_id,
                                                              lock=consume_coupons)
    # the customer's credits (upgrade credits; credit notes' slot, after taxes), locked when consumed
    customer_credits = [] if paid else await credits.available(session, invoice, lock=consume_coupons)
    lines = [line_of(fee) for fee in fees]
    computed = compute_invoice(lines, [coupon_state(c) for c in coupons], invoice.currency, now,
                               progressive_billing_credit=progressive,
                               credit_notes=sum(c.balance_cents for c in customer_credits),
                               prepaid_credit=invoice.prepaid_credit_amount_cents)
    for fee, result in zip(fees, computed.fees, strict=True):
        fee.precise_coupons_amount_cents = result.precise_coupons_amount_cents
        fee.taxes_precise_amount_cents = result.taxes_precise_amount_cents
        fee.taxes_amount_cents = result.taxes_amount_cents
        fee.taxes_rate = result.taxes_rate
        fee.applied_taxes = fee_tax_entries(result, invoice.currency)
    await repository.replace_applied_taxes(session, invoice.id, [{
        "id": uuid7(), "organization_id": invoice.organization_id, "invoice_id": invoice.id, "tax_id":
        uuid.UUID(tax.tax.id) if tax.tax.id else None, "tax_code": tax.tax.code, "tax_name": tax.tax.name,
        "tax_description": tax.tax.description, "tax_rate": tax.tax.rate, "fees_amount_cents": tax.base_cents,
        "amount_cents": tax.amount_cents, "amount_currency": invoice.currency, "created_at": now, "updated_at": now}
        for tax in computed.taxes])
    t = computed.totals
    invoice.fees_amount_cents = t.fees_amount_cents
    invoice.progressive_billing_credit_amount_cents = t.progressive_billing_credit_amount_cents
    invoice.coupons_amount_cents = t.coupons_amount_cents
    invoice.sub_total_excluding_taxes_amount_cents = t.sub_total_excluding_taxes_amount_cents
    invoice.taxes_amount_cents = t.taxes_amount_cents
    invoice.sub_total_including_taxes_amount_cents = t.sub_total_including_taxes_amount_cents
    invoice.credit_notes_amount_cents = t.credit_notes_amount_cents
    invoice.prepaid_credit_amount_cents = t.prepaid_credit_amount_cents
    invoice.total_amount_cents = t.total_amount_cents
    by_id = {c.id: c for c in coupons}
    uses = []
    for use in computed.coupons.uses:
        coupon = by_id[use.coupon_id]
        uses.append({"lago_id": str(uuid.uuid5(invoice.id, str(coupon.id))), "applied_coupon_id": str(coupon.id),
                     "coupon_code": coupon.coupon_code, "coupon_name": coupon.coupon_name,
                     "amount_cents": use.amount_cents})
        if consume_coupons:
            coupon.amount_cents_remaining = use.amount_cents_remaining
            coupon.frequency_duration_remaining = use.frequency_duration_remaining
            if use.terminated:
                coupon.status, coupon.terminated_at = "terminated", now
    credit_uses = credits.uses(customer_credits, t.credit_notes_amount_cents)
    if consume_coupons:
        await credits.consume(session, invoice, credit_uses, now)
    invoice.source = {**invoice.source, "coupons": uses, "credits": [
        {"lago_id": str(uuid.uuid5(invoice.id, f"credit:{use.credit.id}")), "credit_id": str(use.credit.id),
         "reason": use.credit.reason, "amount_cents": use.amount_cents} for use in credit_uses]}
    invoice.updated_at = now
    return computed  # flushed with whatever the caller changes next (the finalization's number): one UPDATE


async def load(session: AsyncSession, organization_id: uuid.UUID, invoice_id: uuid.UUID, *,
               lock: bool = False) -> Invoice:
    found = await (repository.lock_invoice if lock else repository.get_invoice)(session, organization_id, invoice_id)
    if found is None:
        raise InvoiceNotFound()
    return found


async def full(session: AsyncSession, invoice: Invoice) -> InvoiceObject:
    """The invoice with its fees, applied taxes and customer, as the API and the events show it."""
    return (await full_many(session, [invoice]))[0]


async def full_many(session: AsyncSession, invoices: Sequence[Invoice], *,
                    with_fees: bool = True) -> list[InvoiceObject]:
    ids = [i.id for i in invoices]
    fees = await repository.fees_of(session, ids) if with_fees else {}
    taxes = await repository.applied_taxes_of(session, ids)
    customers: dict[uuid.UUID, Customer | None] = {}
    for invoice in invoices:
        if invoice.customer_id not in customers:
            found = await projections.customer(session, invoice.organization_id, invoice.customer_id)
            customers[invoice.customer_id] = Customer.model_validate(found.body) if found and found.body else None
    rendered = [render_invoice(i, fees.get(i.id, []), taxes.get(i.id, []), customers[i.customer_id])
                for i in invoices]
    # Lago's `file_url`: the public link of the invoice's document, once there is one
    documented = await documents.with_documents(session, "invoice", [i.id for i in invoices
                                                                     if i.status in ("finalized", "voided")])
    for invoice in rendered:
        if invoice.lago_id in documented:
            invoice.file_url = links.file_url("invoices", invoice.lago_id)
    return rendered


async def publish(session: AsyncSession, invoice: Invoice, *event_types: str, fees: Sequence[Fee] | None = None,
                  customer: dict[str, Any] | None = None) -> None:
    """The invoice's events; `fees` and `customer` when the caller has them (saves reading them again)."""
    await session.flush()
    if fees is None:
        rendered = await full(session, invoice)
    else:
        if customer is None:
            found = await projections.customer(session, invoice.organization_id, invoice.customer_id)
            customer = found.body if found else None
        taxes = await repository.applied_taxes_of(session, [invoice.id])
        rendered = render_invoice(invoice, fees, taxes[invoice.id], customer)
    payload = InvoiceEvent(invoice=rendered).model_dump(mode="json")  # rendered once for every event type
    await add_events(session, [PendingEvent(type=event_type, organization_id=invoice.organization_id,
                                            aggregate_type="invoice", aggregate_id=invoice.id, data=payload)
                               for event_type in event_types])


async def publish_many(session: AsyncSession,
                       items: Sequence[tuple[Invoice, Sequence[str], Sequence[Fee], dict[str, Any] | None]]) -> None:
    """`publish` for many invoices whose fees and customers the caller has (a batch's finalizations): their
    events written together (two statements for all of them), each invoice's payload rendered once."""
    taxes = await repository.applied_taxes_of(session, [invoice.id for invoice, *_ in items])
    events = []
    for invoice, event_types, fees, customer in items:
        payload = InvoiceEvent(invoice=render_invoice(invoice, fees, taxes[invoice.id], customer)).model_dump(
            mode="json")
        events += [PendingEvent(type=event_type, organization_id=invoice.organization_id, aggregate_type="invoice",
                                aggregate_id=invoice.id, data=payload) for event_type in event_types]
    await add_events(session, events)
