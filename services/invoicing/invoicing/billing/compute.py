"""One invoice's amounts from its fee lines, the customer's applied coupons and the tax rates of each fee.

Order (Lago's): fees → progressive-billing deductions → coupons → taxes → credit notes → prepaid
credits → total. Pure: the caller persists the result and the coupons' new state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from invoicing.billing.coupons import CouponsOutcome, CouponState, FeeBase, apply_coupons
from invoicing.billing.taxes import InvoiceTax, TaxRate, fee_tax, invoice_taxes
from invoicing.billing.totals import Totals, totals


@dataclass(slots=True)
class FeeLine:
    """A fee before coupons and taxes; `payload` is what the caller needs to store it."""

    amount_cents: int
    taxes: Sequence[TaxRate]
    plan_code: str | None = None
    billable_metric_code: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ComputedFee:
    line: FeeLine
    precise_coupons_amount_cents: Decimal
    taxable_base_cents: Decimal
    taxes_precise_amount_cents: Decimal
    taxes_amount_cents: int
    taxes_rate: Decimal
    applied_taxes: list[tuple[TaxRate, Decimal]]


@dataclass(slots=True)
class ComputedInvoice:
    fees: list[ComputedFee]
    coupons: CouponsOutcome
    taxes: list[InvoiceTax]
    totals: Totals


def compute_invoice(lines: Sequence[FeeLine], coupons: Sequence[CouponState], currency: str, now: datetime, *,
                    progressive_billing_credit: int = 0, credit_notes: int = 0,
                    prepaid_credit: int = 0) -> ComputedInvoice:
    fees_amount = sum(line.amount_cents for line in lines)
    outcome = apply_coupons(coupons, [FeeBase(i, line.amount_cents, line.plan_code, line.billable_metric_code)
                                      for i, line in enumerate(lines)], currency, now)
    computed: list[ComputedFee] = []
    for i, line in enumerate(lines):
        discount = outcome.discounts.get(i, Decimal(0))
        base = Decimal(line.amount_cents) - discount
        per_rate = [(tax, fee_tax(base, [tax])) for tax in line.taxes]
        precise = sum((amount for _, amount in per_rate), Decimal(0))
        computed.append(ComputedFee(
            line=line, precise_coupons_amount_cents=discount, taxable_base_cents=base,
            taxes_precise_amount_cents=precise, taxes_amount_cents=int(precise.quantize(Decimal(1), ROUND_HALF_UP)),
            taxes_rate=sum((tax.rate for tax in line.taxes), Decimal(0)), applied_taxes=per_rate))
    taxes = invoice_taxes([(fee.taxable_base_cents, fee.line.taxes) for fee in computed])
    amounts = totals(fees=fees_amount, coupons=outcome.amount_cents, taxes=sum(t.amount_cents for t in taxes),
                     progressive_billing_credit=progressive_billing_credit, credit_notes=credit_notes,
                     prepaid_credit=prepaid_credit)
    return ComputedInvoice(computed, outcome, taxes, amounts)
