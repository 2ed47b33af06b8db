"""One invoice's amounts from its fee lines, the customer's applied coupons and the tax rates of each fee.

Order (Lago's): fees → progressive-billing deductions → coupons → taxes → credit notes → prepaid
credits → total. Pure: the caller persists the result and the coupons' new state.

The progressive-billing deduction (what the period's progressive invoices already billed, and taxed) is
spread over the fees before coupons and taxes, as a coupon is: over the charge fees pro rata first (they
bill the usage those invoices billed), any rest over the other fees; so usage billed and taxed once is
not taxed again at the period's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from invoicing.billing.coupons import SHARE_QUANTUM, CouponsOutcome, CouponState, FeeBase, apply_coupons
from invoicing.billing.taxes import InvoiceTax, TaxRate, fee_tax, invoice_taxes
from invoicing.billing.totals import Totals, totals
from invora.pricing.decimals import pricing_context


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
    progressive_billing_credit_cents: Decimal  # this fee's share of the progressive-billing deduction
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
    progressive = spread_progressive_credit(progressive_billing_credit, lines)
    outcome = apply_coupons(coupons, [FeeBase(i, line.amount_cents, line.plan_code, line.billable_metric_code)
                                      for i, line in enumerate(lines)], currency, now, deducted=progressive)
    computed: list[ComputedFee] = []
    for i, line in enumerate(lines):
        credit = progressive.get(i, Decimal(0))
        discount = outcome.discounts.get(i, Decimal(0))
        base = Decimal(line.amount_cents) - credit - discount
        per_rate = [(tax, fee_tax(base, [tax])) for tax in line.taxes]
        precise = sum((amount for _, amount in per_rate), Decimal(0))
        computed.append(ComputedFee(
            line=line, precise_coupons_amount_cents=discount, progressive_billing_credit_cents=credit,
            taxable_base_cents=base, taxes_precise_amount_cents=precise,
            taxes_amount_cents=int(precise.quantize(Decimal(1), ROUND_HALF_UP)),
            taxes_rate=sum((tax.rate for tax in line.taxes), Decimal(0)), applied_taxes=per_rate))
    taxes = invoice_taxes([(fee.taxable_base_cents, fee.line.taxes) for fee in computed])
    amounts = totals(fees=fees_amount, coupons=outcome.amount_cents, taxes=sum(t.amount_cents for t in taxes),
                     progressive_billing_credit=int(sum(progressive.values(), Decimal(0))),
                     credit_notes=credit_notes, prepaid_credit=prepaid_credit)
    return ComputedInvoice(computed, outcome, taxes, amounts)


def spread_progressive_credit(amount: int, lines: Sequence[FeeLine]) -> dict[int, Decimal]:
    """The deduction's share of each fee (by index), in minor units: the charge fees first, pro rata, then
    any rest over the other fees; at most what the fees come to. The shares add up to the deduction exactly."""
    shares: dict[int, Decimal] = {}
    left = min(max(amount, 0), sum(max(line.amount_cents, 0) for line in lines))
    charges = [i for i, line in enumerate(lines) if line.billable_metric_code is not None and line.amount_cents > 0]
    others = [i for i, line in enumerate(lines) if line.billable_metric_code is None and line.amount_cents > 0]
    for group in (charges, others):
        base = sum(lines[i].amount_cents for i in group)
        portion = min(left, base)
        if portion <= 0:
            continue
        with pricing_context():
            given = Decimal(0)
            for n, i in enumerate(group):  # the last takes the rest: the shares add up exactly
                share = Decimal(portion) - given if n == len(group) - 1 else (
                    Decimal(portion) * lines[i].amount_cents / base).quantize(SHARE_QUANTUM)
                given += share
                shares[i] = share
        left -= portion
    return shares
