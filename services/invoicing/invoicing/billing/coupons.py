"""Coupons on one invoice: applied oldest first, each on the fees it may discount, before taxes.

- A coupon limited to plans discounts the fees of subscriptions on those plans; one limited to
  billable metrics, the charge fees of those metrics; otherwise every fee.
- `fixed_amount`: up to its amount, never more than what is left of the fees it may discount.
  `once`: what is not used stays for the next invoices (`amount_cents_remaining`) until spent.
  `recurring`: its amount on each of `frequency_duration` invoices; `forever`: on every invoice.
- `percentage`: rate × what is left of the fees it may discount, rounded half-up to a minor unit.
  `once`: one invoice; `recurring`: `frequency_duration` invoices; `forever`: every invoice.
- A coupon past its `expiration_at` is terminated unused; a fixed coupon in another currency is skipped.
- Each coupon's amount is shared among the fees it discounts in proportion to what is left of them
  (exact decimals): the base their taxes apply to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from invora.pricing.decimals import pricing_context

ZERO = Decimal(0)
# shares are kept to 20 decimals of a minor unit, so every sum of them is exact in the pricing context
SHARE_QUANTUM = Decimal("1e-20")


@dataclass(frozen=True, slots=True)
class CouponState:
    id: uuid.UUID
    coupon_type: str  # fixed_amount | percentage
    frequency: str  # once | recurring | forever
    created_at: datetime
    amount_cents: int | None = None
    amount_cents_remaining: int | None = None
    amount_currency: str | None = None
    percentage_rate: Decimal | None = None
    frequency_duration_remaining: int | None = None
    expiration_at: datetime | None = None
    plan_codes: tuple[str, ...] = ()
    billable_metric_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FeeBase:
    key: int
    amount_cents: int
    plan_code: str | None = None
    billable_metric_code: str | None = None  # None: not a charge fee


@dataclass(frozen=True, slots=True)
class CouponUse:
    coupon_id: uuid.UUID
    amount_cents: int
    amount_cents_remaining: int | None
    frequency_duration_remaining: int | None
    terminated: bool


@dataclass(slots=True)
class CouponsOutcome:
    amount_cents: int = 0
    uses: list[CouponUse] = field(default_factory=list)
    discounts: dict[int, Decimal] = field(default_factory=dict)  # fee key → precise coupon share (minor units)


def _eligible(coupon: CouponState, fee: FeeBase) -> bool:
    if coupon.plan_codes and fee.plan_code not in coupon.plan_codes:
        return False
    return not (coupon.billable_metric_codes and fee.billable_metric_code not in coupon.billable_metric_codes)


def apply_coupons(coupons: Sequence[CouponState], fees: Sequence[FeeBase], currency: str,
                  now: datetime, *, deducted: Mapping[int, Decimal] | None = None) -> CouponsOutcome:
    """`deducted`: what was already taken off each fee before coupons (progressive billing), by fee key."""
    outcome = CouponsOutcome()
    left = {fee.key: Decimal(fee.amount_cents) - (deducted or {}).get(fee.key, ZERO) for fee in fees}
    for coupon in sorted(coupons, key=lambda c: (c.created_at, str(c.id))):
        if coupon.expiration_at is not None and coupon.expiration_at <= now:
            outcome.uses.append(CouponUse(coupon.id, 0, coupon.amount_cents_remaining,
                                          coupon.frequency_duration_remaining, True))
            continue
        if coupon.coupon_type == "fixed_amount" and (coupon.amount_currency or currency).upper() != currency.upper():
            continue
        eligible = [fee for fee in fees if _eligible(coupon, fee) and left[fee.key] > 0]
        base = sum((left[fee.key] for fee in eligible), ZERO)
        if coupon.coupon_type == "fixed_amount":
            available = (coupon.amount_cents_remaining if coupon.frequency == "once"
                         and coupon.amount_cents_remaining is not None else coupon.amount_cents or 0)
            amount = int(min(Decimal(available), base.to_integral_value(rounding=ROUND_FLOOR)))
        else:
            with pricing_context():
                amount = int((base * (coupon.percentage_rate or ZERO) / 100).quantize(Decimal(1), ROUND_HALF_UP))
            amount = min(amount, int(base))
        if amount > 0:
            with pricing_context():
                given = ZERO
                for n, fee in enumerate(eligible):  # the last takes the rest: the shares add up exactly
                    share = Decimal(amount) - given if n == len(eligible) - 1 else (
                        Decimal(amount) * left[fee.key] / base).quantize(SHARE_QUANTUM)
                    given += share
                    left[fee.key] -= share
                    outcome.discounts[fee.key] = outcome.discounts.get(fee.key, ZERO) + share
        outcome.amount_cents += amount
        outcome.uses.append(_consumed(coupon, amount))
    return outcome


def _consumed(coupon: CouponState, amount: int) -> CouponUse:
    remaining = coupon.amount_cents_remaining
    periods = coupon.frequency_duration_remaining
    if coupon.frequency == "once":
        if coupon.coupon_type == "fixed_amount":
            remaining = (remaining if remaining is not None else coupon.amount_cents or 0) - amount
            return CouponUse(coupon.id, amount, remaining, periods, remaining <= 0)
        return CouponUse(coupon.id, amount, remaining, periods, True)
    if coupon.frequency == "recurring":
        periods = max((periods if periods is not None else 1) - 1, 0)
        return CouponUse(coupon.id, amount, remaining, periods, periods == 0)
    return CouponUse(coupon.id, amount, remaining, periods, False)
