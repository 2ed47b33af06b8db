"""Minimum commitment (Lago's plan `minimum_commitment`): a true-up fee when a period's fees fall short.

    commitment (period)  = commitment amount × days of the subscription in the period / days of the full
                           period, rounded once half-up (a full period: the whole amount)
    fees of the period   = its subscription fee (in arrears on this invoice, or paid in advance for it
                           earlier), its charge fees, its fixed charge fees (in arrears here, in advance
                           earlier), before coupons and taxes
    true-up              = commitment (period) − fees of the period, when positive; else no fee
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from invora.pricing.decimals import pricing_context


def prorated_commitment_cents(amount_cents: int, days: int, days_in_period: int) -> int:
    if days_in_period <= 0 or days >= days_in_period:
        return amount_cents
    with pricing_context():
        return int((Decimal(amount_cents) * max(days, 0) / days_in_period).quantize(Decimal(1), ROUND_HALF_UP))


def true_up_cents(commitment_cents: int, fees_cents: int) -> int:
    return max(commitment_cents - fees_cents, 0)
