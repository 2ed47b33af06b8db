"""Invoice preview (Lago's `POST /invoices/preview`): the first invoice a customer would get on a plan.
Computes with the same code as real invoices and writes nothing (no row, no event, no coupon consumed).

Built: a new subscription (`plan_code`, `subscription_at`, `billing_time`) for a known customer (its tax
codes, applied coupons, timezone) or one described inline; coupons given inline are applied after the
customer's. The first period's subscription fee: paid in advance, the invoice at the start; in arrears, the
invoice at the end of the first period, with no usage yet. Previews of existing subscriptions
(`subscriptions.external_ids`) are `preview_existing.py`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from invoicing.billing.compute import FeeLine, compute_invoice
from invoicing.billing.coupons import CouponState
from invoicing.billing.subscription_fee import calendar_period, local_date, subscription_fee
from invoicing.billing.taxes import precedence
from invoicing.invoices import generate, repository, service
from invoicing.invoices.models import Fee, Invoice, InvoiceAppliedTax
from invoicing.invoices.render import render_invoice
from invoicing.invoices.schemas import PreviewInput
from invoicing.projections import fresh
from invoicing.projections import repository as projections
from invora.errors import NotFound, ValidationFailed
from invora.events.contracts.invoicing import Invoice as InvoiceObject
from invora.service_client import ServiceClient

NIL = uuid.UUID(int=0)  # a preview has no id


async def preview(session: AsyncSession, subscriptions: ServiceClient, organization_id: uuid.UUID,
                  data: PreviewInput, now: datetime) -> InvoiceObject:
    versions = await projections.plan_versions_by_code(session, organization_id, data.plan_code)
    if not versions:
        raise NotFound("plan")
    version = max(versions, key=lambda v: int(v.body.get("version") or 0))
    plan = version.body
    # a customer created a moment ago (its `customer.created` not here yet) is asked of subscriptions
    known = await fresh.customer(session, subscriptions, organization_id, data.customer.external_id) \
        if data.customer.external_id else None
    timezone = (known.timezone if known else None) or data.customer.timezone or "UTC"
    currency = plan["amount_currency"]
    customer_currency = (known.currency if known else None) or data.customer.currency
    if customer_currency and customer_currency != currency:
        raise ValidationFailed(currency=["currencies_does_not_match"])
    start = data.subscription_at or now
    full_start, full_end = calendar_period(start, plan["interval"], timezone)
    if data.billing_time == "anniversary":
        full_start, full_end = start, start + (full_end - full_start)
    trial_days = Decimal(str(plan.get("trial_period") or 0))
    trial_end = start + timedelta(seconds=int(trial_days * 86_400)) if trial_days else None
    fee = subscription_fee(plan["amount_cents"], currency, full_start=full_start, full_end=full_end, start=start,
                           end=full_end, timezone=timezone, trial_ends_at=trial_end)
    customer_taxes = await projections.taxes_by_code(session, organization_id, known.tax_codes) if known else []
    taxes = precedence(generate._rates(plan.get("taxes")), customer_taxes,
                       await projections.organization_taxes(session, organization_id, known))
    coupons = [service.coupon_state(c) for c in await repository.active_coupons(
        session, organization_id, known.id, lock=False)] if known else []
    for n, inline in enumerate(data.coupons or []):
        coupons.append(CouponState(
            id=uuid.uuid5(NIL, f"{inline.code}:{n}"), coupon_type=inline.coupon_type or "fixed_amount",
            frequency="once", created_at=now, amount_cents=inline.amount_cents,
            amount_cents_remaining=inline.amount_cents, amount_currency=inline.amount_currency or currency,
            percentage_rate=inline.percentage_rate))
    computed = compute_invoice([FeeLine(fee.amount_cents, list(taxes), plan_code=data.plan_code)], coupons, currency,
                               now)
    issuing = local_date(start if plan["pay_in_advance"] else full_end, timezone)
    t = computed.totals
    invoice = Invoice(
        id=NIL, organization_id=organization_id, customer_id=known.id if known else NIL,
        external_customer_id=data.customer.external_id or "", billing_reason="preview", invoice_type="subscription",
        status="draft", payment_status="pending", currency=currency, number=None, sequential_id=None,
        issuing_date=issuing, payment_due_date=issuing, net_payment_term=0, payment_overdue=False, version_number=4,
        period_start=full_start if data.billing_time == "anniversary" else start, period_end=full_end,
        fees_amount_cents=t.fees_amount_cents, progressive_billing_credit_amount_cents=0,
        coupons_amount_cents=t.coupons_amount_cents,
        sub_total_excluding_taxes_amount_cents=t.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=t.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=t.sub_total_including_taxes_amount_cents,
        credit_notes_amount_cents=0, prepaid_credit_amount_cents=0, total_amount_cents=t.total_amount_cents,
        metadata_items=[], error_details=[], source={}, created_at=now, updated_at=now)
    [result] = computed.fees
    line = Fee(
        id=NIL, organization_id=organization_id, invoice_id=NIL, fee_type="subscription",
        customer_id=invoice.customer_id, external_customer_id=invoice.external_customer_id, amount_currency=currency,
        units=Decimal(1),
        amount_cents=fee.amount_cents, precise_amount_cents=Decimal(fee.amount_cents),
        unit_amount_cents=fee.amount_cents, precise_unit_amount=Decimal(fee.amount_cents),
        precise_coupons_amount_cents=result.precise_coupons_amount_cents,
        taxes_amount_cents=result.taxes_amount_cents, taxes_precise_amount_cents=result.taxes_precise_amount_cents,
        taxes_rate=result.taxes_rate, applied_taxes=[{**entry, "lago_id": str(NIL)} for entry in
                                                     service.fee_tax_entries(result, currency)],
        amount_details={"days_billed": fee.days_billed, "days_in_period": fee.days_in_period},
        pay_in_advance=bool(plan["pay_in_advance"]), invoiceable=True, from_date=start, to_date=full_end,
        payment_status="pending", created_at=now, updated_at=now, grouped_by={},
        item={"type": "subscription", "code": data.plan_code, "name": version.plan_name,
              "invoice_display_name": version.invoice_display_name, "item_type": "Subscription"})
    applied = [InvoiceAppliedTax(
        id=NIL, organization_id=organization_id, invoice_id=NIL, tax_id=uuid.UUID(tax.tax.id) if tax.tax.id else None,
        tax_code=tax.tax.code, tax_name=tax.tax.name, tax_description=tax.tax.description, tax_rate=tax.tax.rate,
        fees_amount_cents=tax.base_cents, amount_cents=tax.amount_cents, amount_currency=currency, created_at=now)
        for tax in computed.taxes]
    return render_invoice(invoice, [line], applied, known.body if known else None)
