"""Proration: a price scaled by the share of the billing period actually used.

    ratio  = days used / days in the period        (both counted inclusively, whole days)
    amount = full amount × ratio                   (rounded once, half-up, at the end)

A seat at 10.00 a month, used 22 days of a 30-day June, costs 10 × 22/30 = 7.33. Used for the
subscription fee of a plan started or ended mid-period and for prorated fixed charges. Dates
are calendar dates in the customer's timezone (the caller computes them); the ratio is an exact
`Decimal` quotient in the pricing context (80 significant digits), never a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invora.pricing.decimals import ZERO, finalize, pricing_context
from invora.pricing.result import ChargeResult


def days_inclusive(start: date, end: date) -> int:
    """Number of calendar days from `start` to `end`, both included (0 when end precedes start)."""
    return max((end - start).days + 1, 0)


def ratio(days_used: int, days_in_period: int) -> Decimal:
    """days_used / days_in_period, clamped to [0, 1]."""
    if isinstance(days_used, bool) or isinstance(days_in_period, bool):
        raise TypeError("days are whole numbers")
    if days_in_period <= 0:
        raise ValueError("a billing period has at least one day")
    used = min(max(days_used, 0), days_in_period)
    with pricing_context():
        return Decimal(used) / Decimal(days_in_period)


def period_ratio(period_start: date, period_end: date, used_from: date, used_to: date) -> Decimal:
    """Share of the period [period_start, period_end] covered by [used_from, used_to] (all inclusive)."""
    start = max(period_start, used_from)
    end = min(period_end, used_to)
    return ratio(days_inclusive(start, end), days_inclusive(period_start, period_end))


def prorate(amount: Decimal, days_used: int, days_in_period: int) -> Decimal:
    """A precise amount scaled by days used over days in the period (not rounded)."""
    with pricing_context():
        return amount * ratio(days_used, days_in_period)


def prorate_cents(amount_cents: int, currency: str, days_used: int, days_in_period: int) -> int:
    """An amount in minor units (e.g. a plan's amount_cents) prorated and rounded once, half-up."""
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError("amount_cents is an int")
    from invora.money import exponent

    with pricing_context():
        precise_major = Decimal(amount_cents).scaleb(-exponent(currency)) * ratio(days_used, days_in_period)
    return finalize(precise_major, currency)


def prorate_result(result: ChargeResult, days_used: int, days_in_period: int) -> ChargeResult:
    """A priced charge (e.g. a prorated fixed charge) scaled by days used, rounded once."""
    return result.prorated(ratio(days_used, days_in_period))


def minimum_true_up_cents(amount_cents: int, min_amount_cents: int) -> int:
    """What a charge's `min_amount_cents` adds on top of its priced amount (never negative)."""
    return max(min_amount_cents - amount_cents, 0) if min_amount_cents else 0


__all__ = [
    "ZERO", "days_inclusive", "minimum_true_up_cents", "period_ratio", "prorate", "prorate_cents", "prorate_result",
    "ratio",
]
