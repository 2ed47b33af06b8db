"""Customer credits: the unused part of a subscription fee paid in advance, and how invoices consume them.

    day price          = plan amount / days of the fee's full period
    unused (precise)   = min(day price × remaining days, fee amount)
                         remaining days: local days of [max(upgrade instant, billed from), period end), the
                         upgrade's own day included (the new plan bills it)
    coupon share       = unused × the fee's coupon share / fee amount
    credit             = round_half_up((unused − coupon share) × (1 + the fee's tax rate / 100))

That is what Lago's credit note from a termination holds (`CreditNotes::CreateFromTermination`: day price
× remaining days, capped at the fee, less the fee's coupons, plus its taxes), rounded once: the customer credit
made when the fee's invoice cannot take a credit note yet (`credit_notes/unused.py` makes the note otherwise),
and the used days' amount a termination's refund deducts. Invoices consume credits after taxes and before
prepaid credits, oldest first, up to what is left to pay (`allocate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from invora.pricing.decimals import pricing_context

ZERO = Decimal(0)


def unused_fee_credit(*, plan_amount_cents: int, days_in_period: int, remaining_days: int, fee_amount_cents: int,
                      fee_coupons_precise_cents: Decimal = ZERO, taxes_rate: Decimal = ZERO) -> int:
    """The credit (taxes included, minor units) for `remaining_days` of a fee paid in advance."""
    if remaining_days <= 0 or days_in_period <= 0 or fee_amount_cents <= 0:
        return 0
    with pricing_context():
        unused = min(Decimal(plan_amount_cents) * remaining_days / days_in_period, Decimal(fee_amount_cents))
        coupons = unused * Decimal(fee_coupons_precise_cents) / Decimal(fee_amount_cents)
        taxable = unused - coupons
        total = taxable + taxable * Decimal(taxes_rate) / 100
    return max(int(total.quantize(Decimal(1), ROUND_HALF_UP)), 0)


@dataclass(frozen=True, slots=True)
class CreditBalance:
    key: object
    balance_cents: int


def allocate(balances: Sequence[CreditBalance], amount_cents: int) -> list[tuple[object, int]]:
    """`amount_cents` taken from the balances in their order (oldest first); each never below zero."""
    taken: list[tuple[object, int]] = []
    left = max(amount_cents, 0)
    for credit in balances:
        if left <= 0:
            break
        part = min(credit.balance_cents, left)
        if part > 0:
            taken.append((credit.key, part))
            left -= part
    return taken
