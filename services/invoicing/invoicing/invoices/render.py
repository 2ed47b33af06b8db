"""Rows → Lago's `invoice` and `fee` objects (one render per domain)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from invoicing.billing.totals import due_cents
from invoicing.invoices.models import Fee, Invoice, InvoiceAppliedTax
from invora.events.contracts import invoicing as contract
from invora.events.contracts.subscriptions import Customer
from invora.money import exponent


def _major(cents: Decimal, currency: str) -> Decimal:
    return Decimal(cents).scaleb(-exponent(currency))


def render_fee(fee: Fee) -> contract.Fee:
    currency = fee.amount_currency
    excluding = Decimal(fee.amount_cents) - Decimal(fee.precise_coupons_amount_cents)
    return contract.Fee(
        lago_id=fee.id, lago_charge_id=fee.charge_id, lago_charge_filter_id=fee.charge_filter_id,
        lago_fixed_charge_id=fee.fixed_charge_id,
        lago_invoice_id=fee.invoice_id, lago_true_up_parent_fee_id=fee.true_up_parent_fee_id,
        lago_subscription_id=fee.subscription_id, lago_customer_id=fee.customer_id,
        external_customer_id=fee.external_customer_id, external_subscription_id=fee.external_subscription_id,
        amount_cents=fee.amount_cents, precise_amount=_major(fee.precise_amount_cents, currency),
        precise_total_amount=_major(excluding + Decimal(fee.taxes_precise_amount_cents), currency),
        amount_currency=currency, taxes_amount_cents=fee.taxes_amount_cents,
        taxes_precise_amount=_major(fee.taxes_precise_amount_cents, currency), taxes_rate=fee.taxes_rate,
        units=fee.units, precise_unit_amount=fee.precise_unit_amount,
        total_aggregated_units=fee.units if fee.total_aggregated_units is None else fee.total_aggregated_units,
        total_amount_cents=fee.amount_cents + fee.taxes_amount_cents, total_amount_currency=currency,
        events_count=fee.events_count, pay_in_advance=fee.pay_in_advance, invoiceable=fee.invoiceable,
        from_date=fee.from_date, to_date=fee.to_date, payment_status=fee.payment_status, created_at=fee.created_at,
        description=fee.description, event_transaction_id=fee.event_transaction_id,
        precise_coupons_amount_cents=fee.precise_coupons_amount_cents,
        sub_total_excluding_taxes_amount_cents=int(excluding.to_integral_value()),
        sub_total_excluding_taxes_precise_amount_cents=excluding, amount_details=fee.amount_details,
        item=contract.FeeItem.model_validate(fee.item),
        applied_taxes=[contract.FeeAppliedTax.model_validate({**tax, "lago_fee_id": fee.id, "created_at":
                                                             fee.created_at}) for tax in fee.applied_taxes],
    )


def render_invoice(invoice: Invoice, fees: Sequence[Fee] | None = None,
                   applied_taxes: Sequence[InvoiceAppliedTax] = (),
                   customer: dict[str, Any] | Customer | None = None,
                   ) -> contract.Invoice:
    credits = [contract.Credit(
        lago_id=uuid.UUID(use["lago_id"]), amount_cents=use["amount_cents"], amount_currency=invoice.currency,
        item={"lago_item_id": use["applied_coupon_id"], "type": "coupon", "code": use["coupon_code"],
              "name": use["coupon_name"]},
        invoice={"lago_id": str(invoice.id), "payment_status": invoice.payment_status},
    ) for use in invoice.source.get("coupons") or [] if use["amount_cents"]] + [contract.Credit(
        # a customer credit (an upgrade's unused advance fee) stands where Lago shows a credit note's credit
        lago_id=uuid.UUID(use["lago_id"]), amount_cents=use["amount_cents"], amount_currency=invoice.currency,
        before_taxes=False, item={"lago_item_id": use["credit_id"], "type": "credit_note", "code": use["reason"],
                                  "name": "Unused subscription fee credit"},
        invoice={"lago_id": str(invoice.id), "payment_status": invoice.payment_status},
    ) for use in invoice.source.get("credits") or []]
    return contract.Invoice(
        lago_id=invoice.id, billing_entity_code=customer.billing_entity_code if isinstance(customer, Customer)
        else (customer or {}).get("billing_entity_code"),
        sequential_id=invoice.sequential_id, number=invoice.number or "", issuing_date=invoice.issuing_date,
        payment_due_date=invoice.payment_due_date, payment_overdue=invoice.payment_overdue,
        payment_dispute_lost_at=invoice.payment_dispute_lost_at,
        net_payment_term=invoice.net_payment_term, invoice_type=invoice.invoice_type, status=invoice.status,
        payment_status=invoice.payment_status, currency=invoice.currency,
        fees_amount_cents=invoice.fees_amount_cents, coupons_amount_cents=invoice.coupons_amount_cents,
        credit_notes_amount_cents=invoice.credit_notes_amount_cents,
        sub_total_excluding_taxes_amount_cents=invoice.sub_total_excluding_taxes_amount_cents,
        taxes_amount_cents=invoice.taxes_amount_cents,
        sub_total_including_taxes_amount_cents=invoice.sub_total_including_taxes_amount_cents,
        prepaid_credit_amount_cents=invoice.prepaid_credit_amount_cents,
        progressive_billing_credit_amount_cents=invoice.progressive_billing_credit_amount_cents,
        total_amount_cents=invoice.total_amount_cents, version_number=invoice.version_number,
        # a preview's invoice is never written, so it has no database defaults
        total_paid_amount_cents=invoice.total_paid_amount_cents or 0,
        total_due_amount_cents=due_cents(total_cents=invoice.total_amount_cents,
                                         paid_cents=invoice.total_paid_amount_cents or 0,
                                         offset_cents=invoice.offset_amount_cents or 0, status=invoice.status,
                                         payment_status=invoice.payment_status),
        created_at=invoice.created_at, updated_at=invoice.updated_at, finalized_at=invoice.finalized_at,
        voided_at=invoice.voided_at, lago_subscription_id=invoice.subscription_id,
        external_subscription_id=invoice.external_subscription_id, billing_period_start=invoice.period_start,
        billing_period_end=invoice.period_end,
        # a page of one customer's invoices validates its projection once (`full_many`), not per invoice
        customer=customer if isinstance(customer, Customer) or not customer else Customer.model_validate(customer),
        metadata=[contract.InvoiceMetadata.model_validate(item) for item in invoice.metadata_items],
        applied_taxes=[contract.InvoiceAppliedTax(
            lago_id=tax.id, lago_tax_id=tax.tax_id, tax_name=tax.tax_name, tax_code=tax.tax_code,
            tax_rate=tax.tax_rate, tax_description=tax.tax_description, amount_cents=tax.amount_cents,
            amount_currency=tax.amount_currency, created_at=tax.created_at, lago_invoice_id=invoice.id,
            fees_amount_cents=int(Decimal(tax.fees_amount_cents).to_integral_value()),
        ) for tax in applied_taxes],
        credits=credits, fees=[render_fee(fee) for fee in fees or ()], error_details=invoice.error_details,
    )
